"""Document metadata: YAML front matter, ``manifest.yaml``, and validation."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import yaml

from ingest.model import LoadError

MANIFEST_NAME = "manifest.yaml"
REQUIRED = ("id", "title", "status")
STATUSES = ("current", "superseded")
OPTIONAL_DATES = ("effective_from", "review_due")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n?", re.S)


@dataclass(frozen=True)
class DocMeta:
    """What every chunk of a document carries, so a citation needs no second lookup."""

    id: str
    title: str
    status: str
    doc_type: str = "unknown"
    publisher: str = ""
    source_url: str = ""
    published: str = ""
    supersedes: tuple[str, ...] = ()
    protective_marking: str = "OFFICIAL"
    effective_from: str = ""  # ISO date the document has applied since ("2023-07-20"); "" when not known
    review_due: str = ""  # ISO date its owner should next review it; `mopi report documents` flags it when past

    def as_dict(self) -> dict:
        return asdict(self)


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (front matter, body). Text without front matter gives ({}, text)."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"front matter is not valid YAML ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise LoadError("front matter must be a YAML mapping")
    return data, text[match.end():]


def load_manifest(folder: Path) -> dict[str, dict]:
    """Metadata by file name from ``folder/manifest.yaml``; {} when there is none.

    A malformed manifest raises LoadError: silently ignoring it would index
    documents without their status.
    """
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: not valid YAML ({_first_line(exc)})") from None
    docs = data.get("documents", {}) if isinstance(data, dict) else None
    if not isinstance(docs, dict) or not all(isinstance(v, dict) for v in docs.values()):
        raise LoadError(f"{path}: expected 'documents:' mapping file names to metadata")
    return {str(name): entry for name, entry in docs.items()}


def build_meta(raw: dict) -> DocMeta:
    """Validate raw metadata into a DocMeta, or raise LoadError naming what is wrong."""
    missing = [key for key in REQUIRED if not str(raw.get(key) or "").strip()]
    if missing:
        raise LoadError(
            f"missing required metadata: {', '.join(missing)} (add front matter or an entry in {MANIFEST_NAME})"
        )
    doc_id = str(raw["id"]).strip()
    if not _ID_RE.match(doc_id):
        raise LoadError(f"document id {doc_id!r} may only use letters, digits, '.', '_' and '-'")
    status = str(raw["status"]).strip().lower()
    if status not in STATUSES:
        raise LoadError(f"status must be one of {', '.join(STATUSES)}, got {raw['status']!r}")
    supersedes = raw.get("supersedes") or ()
    if isinstance(supersedes, str):
        supersedes = [supersedes]
    dates = {name: _iso_date(raw, name) for name in OPTIONAL_DATES}
    return DocMeta(
        id=doc_id,
        title=str(raw["title"]).strip(),
        status=status,
        doc_type=str(raw.get("doc_type") or "unknown"),
        publisher=str(raw.get("publisher") or ""),
        source_url=str(raw.get("source_url") or ""),
        published=str(raw.get("published") or ""),
        supersedes=tuple(str(s) for s in supersedes),
        protective_marking=str(raw.get("protective_marking") or "OFFICIAL").upper(),
        **dates,
    )


def _iso_date(raw: dict, name: str) -> str:
    """An optional date field as YYYY-MM-DD (YAML may hand over a date object), or LoadError."""
    value = raw.get(name)
    if value in (None, ""):
        return ""
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise LoadError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
