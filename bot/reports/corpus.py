"""Review dates as the corpus files give them now, read with ingest's own metadata reader.

The index carries review_due too, but only as of the last ingest: read from the files, a date an
owner has just moved shows in `mopi report documents` at once. Markdown front matter wins over the
file's manifest.yaml entry, as in ingest; a file whose metadata ingest would refuse is skipped here
(ingest reports it), and the report falls back to the index's value.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.metadata import MANIFEST_NAME, build_meta, load_manifest, split_front_matter
from ingest.model import LoadError

log = logging.getLogger(__name__)
_MARKDOWN = (".md", ".markdown")


def _manifest(folder: Path) -> dict[str, dict]:
    try:
        return load_manifest(folder)
    except LoadError as exc:
        log.warning("review dates: %s ignored (%s)", folder / MANIFEST_NAME, exc)
        return {}


def review_dates(corpus_dir: Path) -> dict[str, str]:
    """ISO review_due by document id, for the documents under ``corpus_dir`` that give one."""
    dates: dict[str, str] = {}
    manifests: dict[Path, dict[str, dict]] = {}
    for path in sorted(corpus_dir.rglob("*")) if corpus_dir.is_dir() else ():
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(corpus_dir).parts):
            continue  # ingest skips hidden files and folders too
        if path.parent not in manifests:
            manifests[path.parent] = _manifest(path.parent)
        entry = manifests[path.parent].get(path.name)
        markdown = path.suffix.lower() in _MARKDOWN
        if entry is None and not markdown:
            continue  # no metadata of its own to read: not a document, or its loader supplies it
        try:
            front = split_front_matter(path.read_text(encoding="utf-8", errors="replace"))[0] if markdown else {}
            meta = build_meta({**(entry or {}), **front})
        except LoadError:
            continue
        if meta.review_due:
            dates[meta.id] = meta.review_due
    return dates
