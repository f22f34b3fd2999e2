"""The HMIC recommendation register: status, history and sources for every item."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from bot.core.lexical import LexicalIndex
from bot.core.register.answers import known_sections
from bot.core.register.model import RegisterError, parse_register
from bot.core.register.store import RegisterStore

SEED_NAME = "recommendations.yaml"


def sync_seed(seed: Path, db: Path, lexical: LexicalIndex, during: Callable[[], None] | None = None) -> dict[str, int]:
    """Load the seed YAML into the register database, validated against the indexed documents.

    All or nothing: any invalid entry raises RegisterError and the database is unchanged.
    ``during`` runs inside the load's transaction (the crash tests kill the process there).
    """
    try:
        data = yaml.safe_load(seed.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RegisterError(f"{seed}: cannot read ({str(exc).splitlines()[0]})") from None
    recommendations = parse_register(data, known_sections(lexical))
    store = RegisterStore(db)
    try:
        return store.load_seed(recommendations, during)
    finally:
        store.close()


__all__ = ["RegisterError", "RegisterStore", "SEED_NAME", "sync_seed"]
