"""The extractive answerer on hand-made hits: verbatim spans, markers, citations (golden-style)."""

from __future__ import annotations

from bot.core.extractive import compose, sentence_spans
from bot.core.retrieval import Hit, current_first, rrf_fuse


def hit(chunk_id: str, text: str, section: str, doc_id: str = "app-rrd", status: str = "current", **meta) -> Hit:
    metadata = {"doc_id": doc_id, "title": f"Title {doc_id}", "section": section, "heading_path": section,
                "status": status, "source_url": f"https://example.org/{doc_id}", **meta}
    return Hit(chunk_id, text, metadata, 0.0, dense_similarity=0.5)


def flat_idf(term: str) -> float:
    return 1.0


def test_sentence_spans_are_verbatim_and_skip_table_rules():
    text = "Rule. A 6-year clear period applies.\n\n| Group | Period |\n|---|---|\n| 3 | 6 years |\n- first item; more"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Rule.", "A 6-year clear period applies.", "Group | Period", "3 | 6 years", "first item; more"]


def test_number_question_is_answered_with_the_sentence_holding_the_number():
    hits = [
        hit("c1", "Group 3 covers all other offences. A 6-year clear period applies to Group 3 records.",
            "5.4 Group 3 – All other offences"),
        hit("c2", "Group 3 records are reviewed by trained staff who understand the NRAC.", "4.2 Who reviews"),
    ]
    extract = compose("how long is the clear period for group 3?", hits, flat_idf)
    assert "A 6-year clear period applies to Group 3 records. [1]" in extract.text
    assert "trained staff" not in extract.text, "a weaker chunk adds nothing"
    first = extract.citations[0]
    assert (first.n, first.doc_id, first.section) == (1, "app-rrd", "5.4 Group 3 – All other offences")
    assert first.quote.endswith("A 6-year clear period applies to Group 3 records.")
    assert first.url == "https://example.org/app-rrd" and first.page is None


def test_every_sentence_carries_a_marker_that_maps_to_a_citation():
    hits = [
        hit("c1", "Information sharing agreements record the lawful basis. They name the partners.", "7. ISAs"),
        hit("c2", "An information sharing agreement must be reviewed regularly.", "7.6 Review", doc_id="app-share"),
    ]
    extract = compose("what must an information sharing agreement record?", hits, flat_idf)
    markers = [int(m) for m in __import__("re").findall(r"\[(\d+)\]", extract.text)]
    assert markers and sorted(set(markers)) == [c.n for c in extract.citations]
    for citation in extract.citations:
        assert citation.quote in extract.text
        assert citation.quote in next(h.text for h in hits if h.id == citation.chunk_id)


def test_no_overlap_means_no_evidence():
    hits = [hit("c1", "Information sharing agreements record the lawful basis.", "7. ISAs")]
    assert compose("what is the speed limit on a motorway", hits, flat_idf).evidence < 0.3


def test_rrf_fuse_by_hand():
    # k=60: a = 1/61 + 1/62, b = 1/62 + 1/61, c = 1/63 -> a and b tie (first seen wins), then c
    assert [i for i, _ in rrf_fuse([["a", "b", "c"], ["b", "a"]], k=60)] == ["a", "b", "c"]
    scores = dict(rrf_fuse([["a", "b"], ["b"]], k=60))
    assert abs(scores["b"] - (1 / 62 + 1 / 61)) < 1e-12 and abs(scores["a"] - 1 / 61) < 1e-12
    # weighted, k=10: a = 0.5/11, b = 0.5/12 + 1/11 -> b first
    weighted = dict(rrf_fuse([["a", "b"], ["b"]], k=10, weights=[0.5, 1.0]))
    assert abs(weighted["a"] - 0.5 / 11) < 1e-12 and abs(weighted["b"] - (0.5 / 12 + 1 / 11)) < 1e-12


def test_current_document_moves_ahead_of_the_one_it_supersedes():
    old = hit("o1", "old", "1", doc_id="code-2005", status="superseded")
    other = hit("x1", "other", "2", doc_id="app-rrd")
    new = hit("n1", "new", "3", doc_id="code-2023")
    assert [h.id for h in current_first([old, other, new], {"code-2005": "code-2023"})] == ["n1", "o1", "x1"]
    assert [h.id for h in current_first([new, old], {"code-2005": "code-2023"})] == ["n1", "o1"]
    assert [h.id for h in current_first([old, other], {"code-2005": "code-2023"})] == ["o1", "x1"]
