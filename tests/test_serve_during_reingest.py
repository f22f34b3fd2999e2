"""Serving while the index is rebuilt: a bot answers in a loop against a real Chroma server while another
process re-ingests a changed corpus. Every answer must be the old index's answer or the new one's, never
an error, and never cite a chunk outside the index version it was answered from."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.core.index import build_assistant, open_store
from bot.core.lexical import LexicalIndex
from bot.settings import load_settings
from tests.conftest import CORPUS, MOPI, mopi_env
from tests.test_ingest_crash_and_server import chroma_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
QUESTION = "how long is the clear period for Group 3?"
DOCS = ("app-retention-review-disposal.md", "mopi-glossary.md", "code-of-practice-mopi-2005.md")


def _key(answer) -> tuple:
    return answer.answer, tuple((c.doc_id, c.section, c.chunk_id) for c in answer.citations)


def test_answers_during_a_reingest_are_the_old_ones_or_the_new_ones(tmp_path, chroma_server, ingest,  # noqa: F811
                                                                    embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in DOCS:
        shutil.copy(CORPUS / name, corpus)
    env = {"MOPI_CHROMA_HOST": "127.0.0.1", "MOPI_CHROMA_PORT": str(chroma_server)}
    settings = load_settings(env, home=tmp_path / "home", corpus_dir=corpus)
    ingest(corpus, settings=settings)
    old_ids = set(LexicalIndex.load(settings.bm25_dir).ids)
    assistant = build_assistant(settings, embedder)
    old = assistant.ask(QUESTION)
    assert "6-year clear period" in old.answer and not old.refused

    # The change: the Group 3 rule gains a sentence (new chunk ids for that section), a document goes.
    retention = corpus / DOCS[0]
    retention.write_text(retention.read_text(encoding="utf-8").replace(
        "**Rule.** A 6-year clear period applies.",
        "**Rule.** A 6-year clear period applies. The clear period restarts with any later offence."),
        encoding="utf-8")
    (corpus / DOCS[2]).unlink()
    proc = subprocess.Popen([MOPI, "ingest", str(corpus)], env=mopi_env(settings.home, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    answers, errors = [], []
    while proc.poll() is None or len(answers) < 3 or _key(answers[-1]) == _key(old):
        try:
            answers.append(assistant.ask(QUESTION))
        except Exception as exc:  # noqa: BLE001 - an error is what this test counts
            errors.append(exc)
        assert len(answers) + len(errors) < 5000, "the bot never moved to the new index"
    assert proc.wait() == 0, proc.stderr.read()

    new_ids = set(LexicalIndex.load(settings.bm25_dir).ids)
    new = build_assistant(settings, embedder).ask(QUESTION)
    assert _key(new) != _key(old), "the change shows in the answer, so old and new can be told apart"
    assert not errors, errors
    kinds = ["old" if _key(a) == _key(old) else "new" if _key(a) == _key(new) else "neither" for a in answers]
    assert "neither" not in kinds, [a.answer for a, k in zip(answers, kinds) if k == "neither"][:2]
    assert kinds[0] == "old" and kinds[-1] == "new", "it answered during the ingest, then moved on"
    assert kinds == sorted(kinds, key=["old", "new"].index), "once on the new index it never went back"
    stored = open_store(settings, embedder).all_ids()
    for answer, kind in zip(answers, kinds):
        cited = {c.chunk_id for c in answer.citations}
        assert cited <= (old_ids if kind == "old" else new_ids)
        assert kind == "old" or cited <= stored, "a new answer cites only chunks the server holds"
    print(f"{kinds.count('old')} old answers, {kinds.count('new')} new, {len(errors)} errors")
