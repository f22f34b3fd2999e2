"""Pure structure tests: Markdown parsing and chunking, golden-style."""

from __future__ import annotations

from ingest.chunking import chunk_blocks, passage_text
from ingest.loaders.markdown import parse_markdown
from ingest.metadata import build_meta
from ingest.model import Block

META = build_meta({"id": "doc", "title": "Doc", "status": "current"})

MARKDOWN = """# Document title

Intro paragraph before any section.

## 5. Record groups

### 5.4 Group 3 – All other offences
**Rule.** A 6-year clear period applies.

| Group | Period |
|---|---|
| 3 | 6 years |

## 6. Sharing

6.1 **Lawful basis.** Sharing needs a *lawful* basis, see [the APP](https://example.org).

6.2 **Agreements.** Use an ISA.
- first item
- second item
"""


def test_markdown_headings_numbered_paragraphs_and_tables():
    blocks = parse_markdown(MARKDOWN)
    assert [(b.headings, b.kind, b.text) for b in blocks] == [
        ((), "text", "Intro paragraph before any section."),
        (("5. Record groups", "5.4 Group 3 – All other offences"), "text", "Rule. A 6-year clear period applies."),
        (("5. Record groups", "5.4 Group 3 – All other offences"), "table",
         "| Group | Period |\n|---|---|\n| 3 | 6 years |"),
        (("6. Sharing", "6.1 Lawful basis"), "text", "Sharing needs a lawful basis, see the APP."),
        (("6. Sharing", "6.2 Agreements"), "text", "Use an ISA."),
        (("6. Sharing", "6.2 Agreements"), "text", "- first item\n- second item"),
    ]


def test_sections_are_never_merged_and_carry_numbers():
    chunks = chunk_blocks(META, parse_markdown(MARKDOWN), max_words=180, overlap_words=30)
    assert [(c.section, c.section_number) for c in chunks] == [
        ("", ""),
        ("5.4 Group 3 – All other offences", "5.4"),
        ("6.1 Lawful basis", "6.1"),
        ("6.2 Agreements", "6.2"),
    ]
    group3 = chunks[1]
    assert "6-year clear period" in group3.text and "| 3 | 6 years |" in group3.text
    assert group3.heading_path == "5. Record groups > 5.4 Group 3 – All other offences"


def test_long_section_splits_with_overlap_and_respects_size():
    sentences = [f"Sentence number {i} says something about retention periods." for i in range(60)]
    blocks = [Block(text=" ".join(sentences), headings=("1. Long",))]
    chunks = chunk_blocks(META, blocks, max_words=60, overlap_words=16)
    assert len(chunks) > 5
    assert all(len(c.text.split()) <= 60 for c in chunks)
    assert all(c.section == "1. Long" for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        last_sentence = before.text.split(". ")[-1]
        assert after.text.startswith(last_sentence.rstrip(".")), "next chunk should open with the previous tail"
    # Every sentence survives the split.
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_tables_kept_whole_when_practical_and_split_with_header_when_huge():
    rows = "\n".join(f"| {i} | period of {i} years |" for i in range(20))
    table = f"| Group | Rule |\n|---|---|\n{rows}"
    whole = chunk_blocks(META, [Block(text=table, headings=("T",), kind="table")], max_words=100)
    assert len(whole) == 1 and whole[0].kind == "table"
    split = chunk_blocks(META, [Block(text=table, headings=("T",), kind="table")], max_words=30)
    assert len(split) > 1
    assert all(c.text.startswith("| Group | Rule |\n|---|---|") for c in split)


def test_chunk_ids_are_content_hashes():
    first = chunk_blocks(META, parse_markdown(MARKDOWN))
    again = chunk_blocks(META, parse_markdown(MARKDOWN))
    assert [c.id for c in first] == [c.id for c in again]
    edited = chunk_blocks(META, parse_markdown(MARKDOWN.replace("Use an ISA.", "Use an agreement.")))
    changed = {c.id for c in edited} ^ {c.id for c in first}
    assert len(changed) == 2, "only the edited section's chunk changes id"
    superseded = chunk_blocks(build_meta({"id": "doc", "title": "Doc", "status": "superseded"}), parse_markdown(MARKDOWN))
    assert not {c.id for c in superseded} & {c.id for c in first}, "metadata is part of the content hash"


def test_identical_text_in_one_section_keeps_both_chunks():
    blocks = [Block(text="Same words here. " * 20, headings=("A",))] * 2
    chunks = chunk_blocks(META, blocks, max_words=40, overlap_words=0)
    assert len({c.id for c in chunks}) == len(chunks)


def test_passage_text_puts_context_first():
    assert passage_text("Doc", "5. Groups > 5.4 Group 3", "Rule.") == "Doc > 5. Groups > 5.4 Group 3\n\nRule."
    assert passage_text("", "", "Rule.") == "Rule."
