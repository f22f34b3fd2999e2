"""requirements.lock agrees with pyproject.toml, and the Makefile installs from it.

Fast and offline: it reads files only. When it fails, `make lock` (README, "Dependencies") brings the
lock back in line with pyproject.toml.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PROJECT = "mopi-assistant"
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def _entries() -> list[str]:
    """The lock's logical lines (backslash continuations joined), comments kept apart."""
    out, cur = [], ""
    for raw in LOCK.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not cur):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    assert not cur, "the lock ends inside a continued line"
    return out


def _lock() -> dict[str, tuple[Version, list[str]]]:
    """{canonical name: (version, [sha256, ...])} for every package in the lock."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    for entry in _entries():
        if entry.startswith("-"):  # options such as --find-links
            continue
        head, *rest = entry.split()
        m = _PIN.match(head)
        assert m, f"not an exact pin in the lock: {entry[:80]!r}"
        name = canonicalize_name(m["name"])
        assert name not in pins, f"{name} is locked twice"
        pins[name] = (Version(m["version"]), _HASH.findall(" ".join(rest)))
    return pins


def _direct() -> list[Requirement]:
    """[project].dependencies plus the dev extra, for this interpreter."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": "dev"})]


def _via_project() -> set[str]:
    """Packages that the lock says it holds because pyproject.toml asks for them (pip-compile's notes)."""
    names, current = set(), None
    for raw in LOCK.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(raw.split(" ")[0])
        if m:
            current = canonicalize_name(m["name"])
        elif current and f"{PROJECT} (pyproject.toml)" in raw:
            names.add(current)
    return names


def test_every_direct_requirement_is_locked_at_a_version_it_allows():
    pins = _lock()
    problems = []
    for req in _direct():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{req} but the lock has {pins[name][0]}")
    assert not problems, "pyproject.toml and requirements.lock disagree (run `make lock`):\n" + "\n".join(problems)


def test_the_lock_holds_no_direct_requirement_that_pyproject_dropped():
    direct = {canonicalize_name(r.name) for r in _direct()}
    stale = _via_project() - direct
    assert _via_project(), "pip-compile's 'via mopi-assistant (pyproject.toml)' notes are missing"
    assert not stale, f"locked for pyproject.toml but no longer asked for there (run `make lock`): {sorted(stale)}"


def test_every_locked_package_has_a_hash():
    pins = _lock()
    assert len(pins) > 50
    unhashed = sorted(n for n, (_, hashes) in pins.items() if not hashes)
    assert not unhashed, f"locked without a hash: {unhashed}"
    assert PROJECT not in pins, "the project itself is installed with --no-deps -e ., not from the lock"


def test_torch_is_the_cpu_wheel_from_local_disk():
    version, hashes = _lock()["torch"]
    assert version.public == "2.13.0" and version.local == "cpu", version
    constraint = next(
        Requirement(line)
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("torch")
    )
    assert constraint.specifier.contains(version), f"constraints.txt ({constraint}) rejects the locked {version}"
    assert SpecifierSet("==2.13.0").contains(version)
    if not TORCH_WHEEL.exists():
        pytest.skip(f"{TORCH_WHEEL} is not on this machine")
    digest = hashlib.sha256()
    with TORCH_WHEEL.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    assert hashes == [digest.hexdigest()], "torch's hash in the lock is not the local CPU wheel's"


def _recipe(makefile: str, target: str) -> tuple[str, str]:
    """(prerequisites, recipe) of one Makefile rule."""
    m = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n)*)", makefile, re.M)
    assert m, f"no {target} rule in the Makefile"
    return m[1], m[2]


def test_the_makefile_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    prereqs, recipe = _recipe(makefile, "$(STAMP)")
    # Re-installs when any of the three changes, and only then.
    assert set(prereqs.split()) >= {"pyproject.toml", "constraints.txt", "$(LOCK)"}, prereqs
    assert re.search(r"\$\(PIP\) --require-hashes -r \$\(LOCK\)", recipe), recipe
    assert re.search(r"\$\(PIP\) --no-deps\b.* -e \.", recipe), recipe
    assert not re.search(r"-e '?\.\[", recipe), "the project is installed with its extras resolved again"
    assert "-c constraints.txt" in re.search(r"^PIP = (.*)$", makefile, re.M)[1]
    for target in ("setup", "test", "run"):
        prereqs, _ = _recipe(makefile, target)
        assert ("$(STAMP)" if target == "setup" else "setup") in prereqs.split(), target
    _, lock = _recipe(makefile, "lock")
    assert "$(PIP_COMPILE)" in lock and "-o $(LOCK) pyproject.toml" in lock, lock
    compile_cmd = re.search(r"^PIP_COMPILE = (.*?)(?<!\\)$", makefile, re.M | re.S)[1]
    for option in ("--generate-hashes", "--extra dev", "-c constraints.txt", "--find-links /opt/wheels"):
        assert option in compile_cmd, option
