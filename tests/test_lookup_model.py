"""The guard's learned second opinion on record lookups (bot/core/lookup_model.py) and where the core uses it."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from bot.core.lookup_model import WEIGHTS_FILE, LookupModel, fit_logistic, held_out_probabilities
from bot.settings import DEFAULT_MODEL_NAME


def test_the_fitted_weights_are_for_the_default_model_and_say_what_they_were_fitted_on():
    from bot.core.guards import SIGNALS

    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    model = LookupModel.load(DEFAULT_MODEL_NAME, signals=SIGNALS)
    assert model is not None and model.signals == SIGNALS
    assert len(model.weights) == 384 + len(SIGNALS)  # all-MiniLM-L6-v2's dimension, then the guard's signals
    assert 0.5 <= model.threshold < 1.0 and 0.0 <= model.weak_threshold <= model.threshold
    assert "dev" in data["on"] and "test" not in data["on"]  # fitted on dev and training data only
    assert data["by"].startswith("python -m evals.fit lookup")


def test_weights_for_another_model_or_none_at_all_leave_it_off_with_one_line(tmp_path, caplog):
    path = tmp_path / "lookup_weights.json"
    LookupModel("some-other-model", (0.1, 0.2), 0.0, 0.9).save(path, {"fitted": "today"})
    with caplog.at_level(logging.WARNING):
        assert LookupModel.load(DEFAULT_MODEL_NAME, path) is None
        assert LookupModel.load(DEFAULT_MODEL_NAME, tmp_path / "missing.json") is None
        assert LookupModel.load(DEFAULT_MODEL_NAME, signals=("some", "other", "signals")) is None
    assert len(caplog.records) == 3 and all("lookup model off" in r.getMessage() for r in caplog.records)


def test_probability_threshold_and_the_weak_threshold():
    model = LookupModel("m", (4.0, -4.0, 1.0), 0.0, threshold=0.9, weak_threshold=0.2, signals=("s",))
    assert model.probability((0.0, 0.0), (0.0,)) == pytest.approx(0.5)
    assert model.refuses((1.0, 0.0), (0.0,)) and not model.refuses((0.0, 1.0), (0.0,))  # p 0.98 vs 0.02
    assert model.clears((0.0, 1.0), (0.0,)) and not model.clears((1.0, 0.0), (0.0,))
    assert model.probability((0.0, 0.0), (1.0,)) > 0.7  # a signal counts beside the vector
    assert not model.refuses((1.0,), (0.0,)) and not model.clears((0.0,))  # another size: no opinion


def test_the_fit_separates_what_is_separable_and_held_out_rows_are_scored_by_other_folds():
    import numpy as np

    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(1.0, 0.3, (40, 3)), rng.normal(-1.0, 0.3, (40, 3))])
    y = np.array([1] * 40 + [0] * 40)
    w, b = fit_logistic(x, y, l2=0.1)
    assert ((x @ w + b > 0) == (y == 1)).all()
    held = held_out_probabilities(x, y, l2=0.1)
    assert held.shape == (80,) and (held[:40] > 0.5).all() and (held[40:] < 0.5).all()


class _CountingEmbedder:
    """The real embedder, counting the queries it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.queries = inner, []
        self.name = inner.name

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_query(self, text):
        self.queries.append(text)
        return self.inner.embed_query(text)


@pytest.fixture
def assistant(corpus_index, embedder):
    from bot.core.index import build_assistant

    return build_assistant(corpus_index, embedder=_CountingEmbedder(embedder))


def test_a_question_the_model_flags_is_refused_as_a_lookup_after_one_embedding(assistant):
    assert not assistant.ask("how long is a group 3 record kept?").refused  # the fitted model lets it through
    assistant.lookup = replace(assistant.lookup, bias=50.0)  # now it flags everything
    assistant.retriever.embedder.queries.clear()
    answer = assistant.ask("how long is a group 2 record kept?")
    assert answer.refused and answer.refusal_reason == "personal_record" and answer.diagnostics.lookup_refused
    assert len(assistant.retriever.embedder.queries) == 1


def test_the_query_vector_is_shared_with_retrieval(assistant):
    assistant.retriever.embedder.queries.clear()
    answer = assistant.ask("what does NRAC stand for?")
    assert not answer.refused
    assert len(assistant.retriever.embedder.queries) == 1  # checked and searched with one embedding


def test_a_weak_rule_refusal_is_lifted_only_below_the_weak_threshold(assistant):
    question = "Dzień dobry – does the NRAC apply to victims and witnesses too, or only to offenders?"
    verdict = assistant.guard.check(question)
    assert verdict.refused and verdict.weak  # the greeting reads as a name to the rules
    assert not assistant.ask(question).refused  # ... and the model sees a guidance question
    assistant.lookup = replace(assistant.lookup, weak_threshold=0.0)
    assert assistant.ask(question).refusal_reason == "personal_record"


def test_a_strong_rule_refusal_is_never_lifted(assistant):
    assistant.lookup = replace(assistant.lookup, weak_threshold=1.0, threshold=1.1)
    for question in ("Jan Kowalski – any previous?", "is my neighbour on the PNC?", "PNC ID 19/0483726K - what's on it?"):
        assert not assistant.guard.check(question).weak
        assert assistant.ask(question).refusal_reason == "personal_record", question
