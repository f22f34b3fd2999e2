"""Golden question set: loader and a reference check against the corpus documents.

    from evals.dataset import load_dataset, check_against_corpus
    items = load_dataset("evals/datasets/golden.yaml")
    problems = check_against_corpus(items, "corpus")   # [] means every item is backed by the corpus

The check is deliberately simple and independent of the project's ingest code: it reads the
documents itself (front matter split with yaml.safe_load, manifest.yaml for files without front
matter) so that a bug in ingest cannot hide a drift between the questions and the documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATEGORIES: tuple[str, ...] = (
    "retention",
    "recording",
    "sharing",
    "governance",
    "codes",
    "status",
    "superseded",
    "out_of_scope",
    "named_person",
    "injection",
)
# Categories whose questions must always be refused (injection may wrap a legitimate question).
REFUSAL_CATEGORIES: frozenset[str] = frozenset({"out_of_scope", "named_person"})

REGISTER_FILE = "recommendations.yaml"
MANIFEST_FILE = "manifest.yaml"
_TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm"}

_REQUIRED = ("id", "category", "question", "expected_docs", "must_include_any", "should_refuse")
_OPTIONAL = ("expected_sections", "must_not_include")


@dataclass(frozen=True)
class GoldenItem:
    id: str
    category: str
    question: str
    expected_docs: tuple[str, ...] = ()
    expected_sections: tuple[str, ...] = ()
    must_include_any: tuple[tuple[str, ...], ...] = ()
    must_not_include: tuple[str, ...] = ()
    should_refuse: bool = False


# --------------------------------------------------------------------------- loading


def _fail(label: str, field: str, message: str) -> ValueError:
    return ValueError(f"item {label}: field {field!r}: {message}")


def _str_list(raw: Any, label: str, field: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise _fail(label, field, f"must be a list, got {type(raw).__name__}")
    out = []
    for value in raw:
        if not isinstance(value, str):
            hint = " (quote section numbers, e.g. \"5.4\")" if field == "expected_sections" else ""
            raise _fail(label, field, f"entries must be strings, got {value!r}{hint}")
        if not value.strip():
            raise _fail(label, field, "entries must not be empty")
        out.append(value)
    if not allow_empty and not out:
        raise _fail(label, field, "must not be empty")
    return tuple(out)


def _parse_item(raw: Any, index: int) -> GoldenItem:
    if not isinstance(raw, dict):
        raise ValueError(f"item #{index}: must be a mapping, got {type(raw).__name__}")
    raw_id = raw.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _fail(f"#{index}", "id", "missing or not a non-empty string")
    label = repr(raw_id)
    if raw.get("status") == "draft":  # from `mopi feedback export --as-golden`: not reviewed yet
        raise _fail(label, "status", "a draft item: review it and delete its draft fields (see the file's head) "
                                     "before it joins a set")

    for field in _REQUIRED:
        if field not in raw:
            raise _fail(label, field, "missing")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise _fail(label, unknown[0], "unknown field")

    category = raw["category"]
    if category not in CATEGORIES:
        raise _fail(label, "category", f"unknown category {category!r} (expected one of {', '.join(CATEGORIES)})")
    question = raw["question"]
    if not isinstance(question, str) or not question.strip():
        raise _fail(label, "question", "missing or not a non-empty string")
    should_refuse = raw["should_refuse"]
    if not isinstance(should_refuse, bool):
        raise _fail(label, "should_refuse", f"must be true or false, got {should_refuse!r}")

    expected_docs = _str_list(raw["expected_docs"], label, "expected_docs")
    expected_sections = _str_list(raw.get("expected_sections", []), label, "expected_sections")
    must_not_include = _str_list(raw.get("must_not_include", []), label, "must_not_include")

    groups_raw = raw["must_include_any"]
    if not isinstance(groups_raw, list):
        raise _fail(label, "must_include_any", f"must be a list of lists, got {type(groups_raw).__name__}")
    groups = []
    for group in groups_raw:
        if not isinstance(group, list):
            raise _fail(label, "must_include_any", f"each group must be a list of alternatives, got {group!r}")
        groups.append(_str_list(group, label, "must_include_any", allow_empty=False))

    if should_refuse:
        if groups:
            raise _fail(label, "must_include_any", "must be [] when should_refuse is true")
        if expected_docs:
            raise _fail(label, "expected_docs", "must be [] when should_refuse is true")
        if expected_sections:
            raise _fail(label, "expected_sections", "must be omitted when should_refuse is true")
    else:
        if category in REFUSAL_CATEGORIES:
            raise _fail(label, "should_refuse", f"must be true for category {category!r}")
        if not expected_docs:
            raise _fail(label, "expected_docs", "must name at least one document when should_refuse is false")
        if not groups:
            raise _fail(label, "must_include_any", "must have at least one group when should_refuse is false")

    return GoldenItem(
        id=raw_id,
        category=category,
        question=question,
        expected_docs=expected_docs,
        expected_sections=expected_sections,
        must_include_any=tuple(groups),
        must_not_include=must_not_include,
        should_refuse=should_refuse,
    )


def load_dataset(path: str | Path) -> list[GoldenItem]:
    """Read a golden YAML file; raises ValueError naming the item and field on any malformed item."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: the dataset must be a YAML list of items")
    items: list[GoldenItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(data, start=1):
        item = _parse_item(raw, index)
        if item.id in seen:
            raise _fail(repr(item.id), "id", "duplicate id")
        seen.add(item.id)
        items.append(item)
    return items


# --------------------------------------------------------------------------- corpus reading


@dataclass(frozen=True)
class _Doc:
    doc_id: str
    path: Path
    text: str  # normalised body text, for phrase matching
    sections: frozenset[str]  # normalised section numbers and heading texts


def normalise(text: str) -> str:
    """Lower case, Markdown emphasis and backticks removed, all whitespace (incl. line breaks) collapsed."""
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"\s+", " ", text).strip().lower()


def _split_front_matter(raw: str) -> tuple[dict, str]:
    if raw.startswith("---"):
        parts = raw.split("\n---", 1)
        if len(parts) == 2:
            meta = yaml.safe_load(parts[0][3:]) or {}
            body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
            if isinstance(meta, dict):
                return meta, body
    return {}, raw


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_NUMBER_AT_START = re.compile(r"^(\d+(?:\.\d+)*(?:\([a-z]\))?)\.?(?=\s|$)")
_BOLD_PARAGRAPH = re.compile(r"^\s*(\d+(?:\.\d+)+(?:\([a-z]\))?)\.?\s+\*\*")
_TEXT_PARAGRAPH = re.compile(r"^\s*(\d+(?:\.\d+)*(?:\([a-z]\))?)\.?\s+\S")


def _sections(body: str, plain_text: bool) -> frozenset[str]:
    found: set[str] = set()
    for line in body.splitlines():
        if plain_text:
            match = _TEXT_PARAGRAPH.match(line)
            if match:
                found.add(match.group(1))
            continue
        heading = _HEADING.match(line)
        if heading:
            title = normalise(heading.group(1))
            found.add(title)
            number = _NUMBER_AT_START.match(title)
            if number:
                found.add(number.group(1))
                rest = title[number.end():].strip()
                if rest:
                    found.add(rest)
            continue
        bold = _BOLD_PARAGRAPH.match(line)
        if bold:
            found.add(bold.group(1))
    return frozenset(found)


def _load_docs(corpus_dir: Path) -> tuple[dict[str, _Doc], list[str]]:
    docs: dict[str, _Doc] = {}
    problems: list[str] = []

    def add(doc_id: Any, path: Path, body: str, plain_text: bool) -> None:
        if not isinstance(doc_id, str) or not doc_id:
            problems.append(f"corpus: {path.name} has no document id")
            return
        if doc_id in docs:
            problems.append(f"corpus: duplicate document id {doc_id!r} ({docs[doc_id].path.name}, {path.name})")
            return
        docs[doc_id] = _Doc(doc_id, path, normalise(body), _sections(body, plain_text))

    for path in sorted(corpus_dir.glob("*.md")):
        meta, body = _split_front_matter(path.read_text(encoding="utf-8"))
        add(meta.get("id"), path, body, plain_text=False)

    manifest = corpus_dir / MANIFEST_FILE
    if manifest.is_file():
        entries = (yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}).get("documents") or {}
        for name, meta in entries.items():
            path = corpus_dir / name
            if path.suffix.lower() in (".md", ".markdown") and path.is_file():
                continue  # an entry for a Markdown file only adds fields to its front matter, read above
            body = ""
            if path.is_file() and path.suffix.lower() in _TEXT_SUFFIXES:
                body = path.read_text(encoding="utf-8", errors="replace")
            elif not path.is_file():
                problems.append(f"corpus: manifest entry {name!r} has no file")
            add((meta or {}).get("id"), path, body, plain_text=path.suffix.lower() not in {".md", ".markdown"})
    return docs, problems


# --------------------------------------------------------------------------- the check


def check_against_corpus(items: list[GoldenItem], corpus_dir: str | Path) -> list[str]:
    """Problems that make an item unanswerable from the corpus as written; [] means all is well.

    Reported: unknown document ids, expected sections absent from the first expected document,
    and must_include_any groups with no alternative present in any expected document (for status
    items the recommendation register counts as an expected source too).
    """
    corpus_dir = Path(corpus_dir)
    docs, problems = _load_docs(corpus_dir)
    register_path = corpus_dir / REGISTER_FILE
    register = normalise(register_path.read_text(encoding="utf-8")) if register_path.is_file() else ""

    for item in items:
        unknown = [d for d in item.expected_docs if d not in docs]
        for doc_id in unknown:
            problems.append(f"{item.id}: unknown document id {doc_id!r} in expected_docs")

        if item.expected_sections:
            if not item.expected_docs:
                problems.append(f"{item.id}: expected_sections given without expected_docs")
            elif item.expected_docs[0] in docs:
                first = docs[item.expected_docs[0]]
                for section in item.expected_sections:
                    if normalise(section) not in first.sections:
                        problems.append(f"{item.id}: section {section!r} not found in {first.doc_id}")

        sources = [docs[d].text for d in item.expected_docs if d in docs]
        if item.category == "status" and register:
            sources.append(register)
        for group in item.must_include_any:
            if not any(normalise(alt) in text for alt in group for text in sources):
                where = ", ".join(item.expected_docs) or "no expected docs"
                problems.append(f"{item.id}: must_include_any group {list(group)} matches nothing in {where}")
    return problems
