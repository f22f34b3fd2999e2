"""The gaps report: questions the guidance did not cover, clustered, and negative feedback by section.

Pure: the audit rows, an embedding function and the index snapshot's chunk vectors go in, a
:class:`GapsReport` comes out. Refusals about a person's records and refused injection attempts
are counted and left out (bot.reports.audit never reads their text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np

from bot.errors import IndexNotReadyError
from bot.reports.audit import NEGATIVE_KINDS, NOT_COVERED, Audit, Cited

# Average-link merge threshold: two clusters merge while the mean cosine over their pairs of questions
# is at least this (all-MiniLM-L6-v2 unit vectors). Hand-written gap questions scored 0.5-0.9 with their
# paraphrases and 0.25-0.45 with other questions on police topics (CCTV from a shop against body-worn
# video retention was the closest pair); every threshold from 0.35 to 0.55 grouped them exactly. On the
# 24 topics of evals/benchmarks/bench_reports.py (with "hi, " / "quick q: " / "thanks" variants), 0.40
# mixes two topics and 0.45 and up mix none (0.5: 30 clusters for 24 topics). 0.5 sits on the side of
# splitting: two clusters an owner reads as one cost less than one cluster that hides a second gap.
MERGE_THRESHOLD = 0.5
MAX_EXAMPLES = 3
# An example this close to one already shown ("hi, how do I ...?" beside "how do I ...") tells the reader
# nothing new: the next most central question is shown instead, while there is one.
NEAR_REPEAT = 0.9
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Section:
    """The corpus section nearest a cluster: where an owner would start to cover the gap."""

    doc_id: str
    title: str
    section: str
    url: str
    similarity: float  # cosine of the cluster's centre to the section's nearest chunk


@dataclass(frozen=True)
class GapCluster:
    size: int  # refusals in the cluster, repeats included
    examples: tuple[str, ...]  # up to MAX_EXAMPLES distinct questions, the most central first
    nearest: Section


@dataclass(frozen=True)
class SectionFeedback:
    doc_id: str
    title: str
    section: str  # "" when the answer's citations were not recorded, only its documents
    down: int
    wrong_source: int


@dataclass(frozen=True)
class GapsReport:
    created: str
    since: str  # "" for all time
    readers: tuple[str, ...]  # MOPI_REPORT_READERS
    threshold: float
    not_covered: int  # refusals as not covered by the guidance
    left_out: int  # refusals about people or injection attempts: counted, never shown
    clusters: tuple[GapCluster, ...]
    feedback: tuple[SectionFeedback, ...]
    feedback_uncited: int  # thumbs-down on answers that cited nothing (refusals)

    def to_dict(self) -> dict:
        return asdict(self)


def cluster(vectors: np.ndarray, weights: Sequence[int], threshold: float = MERGE_THRESHOLD) -> list[list[int]]:
    """Average-link agglomerative clustering of unit row vectors: groups of row indices, largest first.

    Merges while the weighted mean pairwise cosine between two clusters is at least ``threshold``
    (a row of weight w stands for w identical questions). Nearest-neighbour chain: O(n²) time,
    where merging the best pair each time is O(n³), and average linkage gives the same clusters.
    """
    n = len(vectors)
    sim = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    np.fill_diagonal(sim, -np.inf)
    size = np.asarray(weights, dtype=np.float64)
    members = [[i] for i in range(n)]
    active = np.ones(n, dtype=bool)
    clusters: list[list[int]] = []
    chain: list[int] = []
    while active.any():
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        row = np.where(active, sim[a], -np.inf)
        b = int(row.argmax())
        if row[b] < threshold:
            # Average linkage never rises above the better of two merged clusters: a is final.
            clusters.append(members[a])
            active[a] = False
            chain.pop()
            continue
        if len(chain) > 1 and row[chain[-2]] >= row[b]:  # mutual nearest neighbours (ties go to the chain)
            b = chain[-2]
            del chain[-2:]
            merged = (size[a] * sim[a] + size[b] * sim[b]) / (size[a] + size[b])
            sim[a], sim[:, a] = merged, merged
            sim[a, a] = -np.inf
            size[a] += size[b]
            members[a] += members[b]
            active[b] = False
        else:
            chain.append(b)
    weight = list(weights)
    return sorted((sorted(m) for m in clusters), key=lambda m: (-sum(weight[i] for i in m), m[0]))


def nearest_sections(centres: np.ndarray, chunk_vectors, metadatas: Sequence[dict]) -> list[Section]:
    """For each unit row of ``centres``, the section of its nearest chunk (exact cosine, as SnapshotVectors)."""
    if not len(centres):
        return []
    if chunk_vectors is None or not len(metadatas):
        raise IndexNotReadyError("the index snapshot holds no chunk vectors: run `mopi ingest` to add them")
    scores = np.asarray(centres, dtype=np.float32) @ np.asarray(chunk_vectors, dtype=np.float32).T
    best = scores.argmax(axis=1)
    found = []
    for row, i in enumerate(best):
        meta = metadatas[i]
        found.append(Section(meta.get("doc_id", ""), meta.get("title", ""), meta.get("section", ""),
                             meta.get("source_url", ""), round(float(scores[row, i]), 3)))
    return found


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _key(question: str) -> str:
    return " ".join(_WORD.findall(question.lower()))


def _examples(group: list[int], vectors: np.ndarray, centre: np.ndarray) -> list[int]:
    """Up to MAX_EXAMPLES rows of ``group``, the most central first, near-repeats only to fill up."""
    central = sorted(group, key=lambda i: (-float(vectors[i] @ centre), i))
    chosen: list[int] = []
    for i in central:
        if len(chosen) < MAX_EXAMPLES and all(float(vectors[i] @ vectors[j]) < NEAR_REPEAT for j in chosen):
            chosen.append(i)
    return chosen + [i for i in central if i not in chosen][:MAX_EXAMPLES - len(chosen)]


def gap_clusters(questions: Sequence[str], embed: Callable[[list[str]], list[list[float]]], chunk_vectors,
                 metadatas: Sequence[dict], threshold: float = MERGE_THRESHOLD) -> list[GapCluster]:
    """Cluster refused questions; repeats (up to case, spacing and punctuation) are embedded once and
    weigh their count."""
    counts = Counter(_key(q) for q in questions)
    counts.pop("", None)
    shown: dict[str, str] = {}
    for q in questions:
        shown.setdefault(_key(q), q.strip())
    keys = list(counts)
    if not keys:
        return []
    vectors = _unit(np.asarray(embed([shown[k] for k in keys]), dtype=np.float64))
    weights = [counts[k] for k in keys]
    groups = cluster(vectors, weights, threshold)
    centres = _unit(np.stack([(vectors[g] * np.asarray(weights)[g, None]).sum(axis=0) for g in groups]))
    sections = nearest_sections(centres, chunk_vectors, metadatas)
    out = []
    for group, centre, section in zip(groups, centres, sections):
        examples = tuple(shown[keys[i]] for i in _examples(group, vectors, centre))
        out.append(GapCluster(sum(weights[i] for i in group), examples, section))
    return out


def feedback_by_section(audit: Audit, metadatas: Sequence[dict], since: str = "") -> tuple[list[SectionFeedback], int]:
    """Thumbs-down and wrong-source feedback per cited (document, section), most first; and how many
    such feedbacks were on answers that cited nothing."""
    titles = {m.get("doc_id", ""): m.get("title", "") for m in metadatas}
    counts: dict[tuple[str, str], Counter] = {}
    uncited = 0
    for fb in audit.feedback:
        if fb.kind not in NEGATIVE_KINDS or fb.at < since:
            continue
        answer = audit.by_id.get(fb.answer_id)
        cited = (answer.citations if answer and answer.citations
                 else tuple(Cited(d, "", "") for d in fb.cited_doc_ids))
        uncited += not cited
        for c in cited:
            counts.setdefault((c.doc_id, c.section), Counter())[fb.kind] += 1
            titles.setdefault(c.doc_id, c.title)
    rows = [SectionFeedback(doc_id, titles.get(doc_id) or "", section, n["down"], n["wrong_source"])
            for (doc_id, section), n in counts.items()]
    rows.sort(key=lambda r: (-(r.down + r.wrong_source), r.doc_id, r.section))
    return rows, uncited


def build_gaps(audit: Audit, embed: Callable[[list[str]], list[list[float]]], chunk_vectors,
               metadatas: Sequence[dict], readers: Sequence[str], since: date | None, created: str) -> GapsReport:
    start = since.isoformat() if since else ""  # ISO timestamps compare as strings
    answers = [a for a in audit.answers if a.at >= start]
    questions = [a.question for a in answers if a.refusal_reason == NOT_COVERED]
    clusters = gap_clusters(questions, embed, chunk_vectors, metadatas)
    feedback, uncited = feedback_by_section(audit, metadatas, start)
    return GapsReport(created, start, tuple(readers), MERGE_THRESHOLD, len(questions),
                      sum(a.withheld for a in answers), tuple(clusters), tuple(feedback), uncited)
