"""Settings come from one place; the corpus copy stays in step with shared/."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings
from tests.conftest import CORPUS

SHARED = CORPUS.parent.parent / "shared"


def test_settings_from_env_and_overrides():
    settings = load_settings({"MOPI_HOME": "/tmp/x", "MOPI_CHROMA_HOST": "127.0.0.1", "MOPI_CHROMA_PORT": "9000"})
    assert settings.home == Path("/tmp/x")
    assert settings.store_location == "chroma server http://127.0.0.1:9000"
    assert load_settings({"MOPI_HOME": "/tmp/x"}, home=Path("/tmp/y")).home == Path("/tmp/y")
    defaults = load_settings({})
    assert defaults.home == Path(".mopi") and defaults.chroma_host is None
    assert defaults.store_location == ".mopi/chroma"


def test_collection_name_carries_the_model():
    assert load_settings({}).collection_name == "mopi-all-minilm-l6-v2"
    other = load_settings({"MOPI_MODEL_PATH": "/models/bge-small-en-v1.5"})
    assert other.model_name == "bge-small-en-v1.5" and other.collection_name == "mopi-bge-small-en-v1-5"


@pytest.mark.parametrize("env, phrase", [
    ({"MOPI_CHROMA_PORT": "eighty"}, "MOPI_CHROMA_PORT must be a whole number"),
    ({"MOPI_CHUNK_WORDS": "20", "MOPI_CHUNK_OVERLAP": "30"}, "MOPI_CHUNK_OVERLAP must be smaller"),
    ({"MOPI_FAULT": "somewhere"}, "MOPI_FAULT must be one of before-chunks, after-vectors"),
])
def test_bad_settings_are_clear_errors(env, phrase):
    with pytest.raises(ConfigError, match=phrase):
        load_settings(env)


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="../shared is not beside this checkout")
def test_corpus_is_in_step_with_shared():
    for source in sorted((SHARED / "corpus").iterdir()):
        copy = CORPUS / source.name
        assert copy.is_file(), f"{source.name} missing from corpus/: run `make sync-corpus`"
        assert copy.read_bytes() == source.read_bytes(), f"corpus/{source.name} differs: run `make sync-corpus`"
    seed = SHARED / "seed" / "000_025ea25f9895abb8.txt"
    assert (CORPUS / "lancashire-progress-report-2015-extract.txt").read_bytes() == seed.read_bytes()
