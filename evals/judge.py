"""Faithfulness judged by an LLM: is each sentence of an answer supported by its cited quotes?

An equivalent of ragas' faithfulness metric without its dependencies: the judge
sees the numbered answer sentences and the quotes, and labels each sentence
SUPPORTED or UNSUPPORTED. Runs only when an LLM is configured.
"""

from __future__ import annotations

import re

_SENTENCES = re.compile(r"(?<=[.!?\]])\s+(?=[A-Z0-9\"'(])")
_LABEL = re.compile(r"^\s*(\d+)\s*[:.)-]\s*(SUPPORTED|UNSUPPORTED)\b", re.I | re.M)

PROMPT = """You check whether an answer is faithful to its sources.
For each numbered SENTENCE below, reply on its own line with the number, a colon and SUPPORTED if the
SOURCES state it, or UNSUPPORTED if they do not. Reply with nothing else.

SOURCES:
{sources}

SENTENCES:
{sentences}"""


def judge_faithfulness(answer, chat_model) -> float | None:
    """Share of answer sentences the judge labels SUPPORTED; None when there is nothing to judge."""
    sentences = [s for s in _SENTENCES.split(answer.answer.strip()) if s.strip()]
    if answer.refused or not sentences or not answer.citations:
        return None
    sources = "\n".join(f"[{c.n}] {c.quote}" for c in answer.citations)
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, start=1))
    reply = chat_model.invoke([("human", PROMPT.format(sources=sources, sentences=numbered))])
    labels = {int(n): label.upper() for n, label in _LABEL.findall(str(reply.content))}
    return sum(labels.get(i) == "SUPPORTED" for i in range(1, len(sentences) + 1)) / len(sentences)
