"""The answer contract shared by the CLI, Slack and the evals.

``Answer.to_dict()`` is the JSON that `mopi ask --json` prints; other tools
depend on its field names, so change them only with a version bump.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] marker in the answer text
    doc_id: str
    title: str
    section: str
    page: int | None
    url: str
    status: str  # "current" or "superseded"
    quote: str  # verbatim supporting text from the cited chunk
    chunk_id: str = ""  # not part of the JSON contract; lets evals check the quote against the chunk

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("chunk_id")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Citation:
        return cls(int(data["n"]), data["doc_id"], data["title"], data["section"], data.get("page"), data["url"],
                   data["status"], data["quote"])


@dataclass(frozen=True)
class Diagnostics:
    """Why the core answered or refused; for evals and logs, not part of the JSON contract."""

    retrieved: tuple[dict, ...] = ()  # ranked hits: {id, doc_id, section, section_number}
    evidence: float = 0.0  # how well the best sentence (with its headings) covers the question
    coverage: float = 0.0  # how much of the question the best retrieved passage covers
    top_similarity: float = 0.0  # cosine similarity of the nearest chunk to the question
    instructions_removed: bool = False  # the guard cut an override out of the question before answering
    lookup_refused: bool = False  # refused by the lookup model (bot.core.lookup_model), not by the guard's rules


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    refused: bool
    mode: str  # "extractive", "register", or the LLM's name
    citations: tuple[Citation, ...] = ()
    refusal_reason: str = ""  # "no_evidence", "personal_record", "injection" (not part of the JSON contract)
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    fallback_reason: str = ""  # why a generative answer fell back to extractive
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)
    id: str = field(default="", compare=False)  # for logs, the audit trail and feedback (not in the JSON contract)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
        }

    @classmethod
    def from_dict(cls, data: dict, answer_id: str = "") -> Answer:
        """Back from ``to_dict()`` (e.g. from the audit database), to render it again."""
        return cls(data["question"], data["answer"], bool(data["refused"]), data["mode"],
                   tuple(Citation.from_dict(c) for c in data.get("citations", ())), id=answer_id)
