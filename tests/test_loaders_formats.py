"""Loaders for PDF, DOCX, HTML and plain text, run on real files generated here."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.pdf import load_pdf
from ingest.loaders.plaintext import load_txt, structure_lines
from ingest.model import Block, LoadError

REPO = Path(__file__).resolve().parents[1]
SEED_CANDIDATES = (
    Path("/work/shared/seed/000_025ea25f9895abb8.txt"),
    REPO / "corpus" / "lancashire-progress-report-2015-extract.txt",
)


def _lines(*texts: str, page: int | None = None) -> list[tuple[str, int | None]]:
    return [(text, page) for text in texts]


def _find(blocks: list[Block], needle: str) -> Block:
    found = [block for block in blocks if needle in block.text]
    assert len(found) == 1, f"{needle!r} found in {len(found)} blocks"
    return found[0]


def _assert_one_line_error(excinfo: pytest.ExceptionInfo[LoadError], phrase: str) -> None:
    message = str(excinfo.value)
    assert phrase in message
    assert "\n" not in message


# --- structure_lines: golden-style unit tests -------------------------------------------------


def test_structure_numbered_headings_and_paragraphs() -> None:
    blocks = structure_lines(
        _lines(
            "Report to the Commissioner",
            "",
            " 1. Summary ",
            "",
            "1.1 This report advises the Commissioner of",
            "progress   against  the plan.",
            "",
            "2 Decision Required",
            "2.1 The Commissioner is asked to note the report and make comments as",
            "",
            "appropriate.",
            " 2.2 A second paragraph follows without a blank line.",
        )
    )
    assert blocks == [
        Block("Report to the Commissioner", ()),
        Block("This report advises the Commissioner of progress against the plan.", ("1. Summary", "1.1")),
        Block(
            "The Commissioner is asked to note the report and make comments as appropriate.",
            ("2. Decision Required", "2.1"),
        ),
        Block("A second paragraph follows without a blank line.", ("2. Decision Required", "2.2")),
    ]


def test_structure_title_like_numbered_line_is_a_subsection_heading() -> None:
    blocks = structure_lines(
        _lines(
            "5 Record groups",
            "5.4 Group 3 – All other offences",
            "Records in this group are reviewed after six years, unless a review finds",
            "a reason to keep them.",
            "5.5 Records are then disposed of unless a review finds a reason to keep them.",
            "5.6 Records are held by Lancashire",
            "Constabulary for six years and then",
            "destroyed.",
            "5.7 Group 4 – Short titles",
            "None.",
        )
    )
    assert blocks == [
        Block(
            "Records in this group are reviewed after six years, unless a review finds a reason to keep them.",
            ("5. Record groups", "5.4 Group 3 – All other offences"),
        ),
        Block(
            "Records are then disposed of unless a review finds a reason to keep them.",
            ("5. Record groups", "5.5"),
        ),
        # A narrow column wraps early; the next line of the same width is no body under a title.
        Block(
            "Records are held by Lancashire Constabulary for six years and then destroyed.",
            ("5. Record groups", "5.6"),
        ),
        Block("None.", ("5. Record groups", "5.7 Group 4 – Short titles")),
    ]


def test_structure_bullets_start_paragraphs_and_hyphens_stay() -> None:
    blocks = structure_lines(
        _lines(
            "3 Information",
            "3.5 Highlights are:-",
            "• First item about record-",
            "keeping in the force.",
            "\uf0b7 Second item.",
            "- Third item.",
            "* Fourth item.",
        )
    )
    path = ("3. Information", "3.5")
    assert blocks == [
        Block("Highlights are:-", path),
        Block("• First item about record- keeping in the force.", path),
        Block("• Second item.", path),
        Block("• Third item.", path),
        Block("• Fourth item.", path),
    ]


def test_structure_mid_sentence_numbers_are_not_headings() -> None:
    blocks = structure_lines(
        _lines(
            "1 Introduction",
            "1.1 The posts were advertised in the week commencing",
            "23 November",
            "and the budget grew by",
            "2.5 million pounds over the year.",
            "",
            "9 Things Happen Later",
            "",
            "1.2 Closing paragraph.",
        )
    )
    assert blocks == [
        Block(
            "The posts were advertised in the week commencing 23 November and the budget grew by"
            " 2.5 million pounds over the year.",
            ("1. Introduction", "1.1"),
        ),
        # A jump from section 1 to 9 is body text, not a heading.
        Block("9 Things Happen Later", ("1. Introduction", "1.1")),
        Block("Closing paragraph.", ("1. Introduction", "1.2")),
    ]


def test_structure_pages_carry_headings_and_drop_page_numbers() -> None:
    lines = [
        ("2 Retention", 1),
        ("2.1 Records are kept until the subject", 1),
        ("Page 1 of 2", 1),
        ("2", 2),
        ("reaches 100 years of age.", 2),
        ("Reviews happen every ten years.", 2),
        ("", 2),
        ("A new paragraph on page two.", 2),
    ]
    assert structure_lines(lines) == [
        Block("Records are kept until the subject reaches 100 years of age. Reviews happen every ten years.",
              ("2. Retention", "2.1"), page=1),
        Block("A new paragraph on page two.", ("2. Retention", "2.1"), page=2),
    ]  # fmt: skip


def test_structure_whitespace_only_gives_no_blocks() -> None:
    assert structure_lines(_lines("", "   ", "\t", "\f")) == []


# --- plain text ----------------------------------------------------------------------------------


@pytest.fixture
def seed_path() -> Path:
    for candidate in SEED_CANDIDATES:
        if candidate.exists():
            return candidate
    pytest.skip("seed report text not available")


def test_txt_seed_report_structure(seed_path: Path) -> None:
    blocks = load_txt(seed_path).blocks
    auditors = _find(blocks, "two temporary Management of Police Information (MoPI) Auditor posts")
    assert auditors.headings == ("3. Information", "3.5")
    assert auditors.page is None
    assert auditors.text.startswith("The Constabulary has agreed to the establishment")

    rrd = _find(blocks, "Retain Review and Delete (RRD) Standard Operating Procedures")
    assert rrd.headings == ("3. Information", "3.7")
    assert rrd.text.startswith("Presently, the issue remains")

    implications = _find(blocks, "statutory Code of Practice")
    assert implications.headings == ("4. Implications", "4.1")

    top_levels = list(dict.fromkeys(block.headings[0] for block in blocks))
    assert top_levels == [
        "1. Summary",
        "2. Decision Required",
        "3. Information",
        "4. Implications",
        "5. Links to Police & Crime Plan",
        "6. Reasons why Restricted",
        "7. Background Documents",
        "8. Contact for Further Information",
    ]
    # The blank line in "make comments as / / appropriate." is an extraction artefact.
    assert _find(blocks, "make comments as").text.endswith("make comments as appropriate.")


def test_txt_rejects_empty_binary_and_latin1(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"  \n\n ")
    with pytest.raises(LoadError) as excinfo:
        load_txt(empty)
    _assert_one_line_error(excinfo, "empty")

    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(LoadError) as excinfo:
        load_txt(binary)
    _assert_one_line_error(excinfo, "binary")

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("1 Résumé\n1.1 Records are kept.\n".encode("latin-1"))
    with pytest.raises(LoadError) as excinfo:
        load_txt(latin1)
    _assert_one_line_error(excinfo, "not valid UTF-8")


# --- PDF -------------------------------------------------------------------------------------------


class _FooterPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")


def _pdf_page(pdf: FPDF, *lines: str) -> None:
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        if line:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(6)


def _write_report_pdf(path: Path) -> bytes:
    """Three pages; pypdf reports no blank lines, so paragraphs rely on numbers and page ends."""
    pdf = _FooterPDF()
    pdf.set_auto_page_break(False)
    _pdf_page(
        pdf,
        "1 Purpose",
        "",
        "1.1 This guidance explains how forces review police information.",
        "",
        "2 Retention Periods",
        "",
        "2.1 Records about the most serious offenders are kept until the",
    )
    _pdf_page(
        pdf,
        "subject reaches 100 years of age.",
        "",
        "2.2 Other records are reviewed after six years.",
    )
    _pdf_page(
        pdf,
        "Reviews of these records are recorded on the system.",
        "",
        "3 Disposal",
        "3.1 Group 3 - All other offences",
        "Records in this group are disposed of after review.",
    )
    pdf.output(str(path))
    return path.read_bytes()


def test_pdf_pages_and_headings_across_page_breaks(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _write_report_pdf(path)
    blocks = load_pdf(path).blocks
    assert [(block.text, block.headings, block.page) for block in blocks] == [
        ("This guidance explains how forces review police information.", ("1. Purpose", "1.1"), 1),
        # Starts on page 1, ends on page 2: one paragraph, cited from where it starts.
        (
            "Records about the most serious offenders are kept until the subject reaches 100 years of age.",
            ("2. Retention Periods", "2.1"),
            1,
        ),
        ("Other records are reviewed after six years.", ("2. Retention Periods", "2.2"), 2),
        # Section 2.2 carries on at the top of page 3 under its heading from page 2.
        ("Reviews of these records are recorded on the system.", ("2. Retention Periods", "2.2"), 3),
        (
            "Records in this group are disposed of after review.",
            ("3. Disposal", "3.1 Group 3 - All other offences"),
            3,
        ),
    ]
    assert all(block.kind == "text" for block in blocks)
    assert not any("Page" in block.text for block in blocks)  # footers are page furniture


def test_pdf_rejects_corrupt_truncated_empty_and_image_only(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(os.urandom(4096))
    with pytest.raises(LoadError) as excinfo:
        load_pdf(corrupt)
    _assert_one_line_error(excinfo, "not a readable PDF")

    data = _write_report_pdf(tmp_path / "whole.pdf")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError) as excinfo:
        load_pdf(truncated)
    _assert_one_line_error(excinfo, "not a readable PDF")

    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(LoadError) as excinfo:
        load_pdf(empty)
    _assert_one_line_error(excinfo, "file is empty")

    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(120, 120, 120)
    pdf.rect(20, 20, 120, 80, style="F")  # what a scanned page looks like to a text extractor
    scanned = tmp_path / "scanned.pdf"
    pdf.output(str(scanned))
    with pytest.raises(LoadError) as excinfo:
        load_pdf(scanned)
    _assert_one_line_error(excinfo, "no extractable text")


def test_pdf_encrypted_needs_password(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    source = tmp_path / "plain.pdf"
    _write_report_pdf(source)
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    with pytest.raises(LoadError) as excinfo:
        load_pdf(locked)
    _assert_one_line_error(excinfo, "PDF is encrypted")


# --- DOCX -------------------------------------------------------------------------------------------


def _write_docx(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Records Retention Policy", style="Title")
    document.add_paragraph("Read this policy with the MoPI APP.")
    document.add_heading("Retention", level=1)
    document.add_paragraph("Forces keep records only as long as needed.")
    document.add_heading("Record groups", level=2)
    document.add_heading("Group 1", level=3)
    document.add_paragraph("Certain public protection matters.")
    table = document.add_table(rows=3, cols=2)
    rows = (("Group", "Review"), ("Group 1", "Retain until 100"), ("Group 2", "10 years"))
    for row, (group, period) in enumerate(rows):
        table.cell(row, 0).text = group
        table.cell(row, 1).text = period
    document.add_paragraph("Text after the table.")
    document.add_heading("Group 2", level=3)
    document.add_paragraph("Other sexual and violent offences.")
    document.add_heading("Disposal", level=1)
    document.add_paragraph("Disposal is recorded.", style="List Bullet")
    document.save(str(path))


def test_docx_headings_tables_and_order(tmp_path: Path) -> None:
    path = tmp_path / "policy.docx"
    _write_docx(path)
    loaded = load_docx(path)
    assert loaded.metadata == {"title": "Records Retention Policy"}
    assert [(block.kind, block.headings, block.text) for block in loaded.blocks] == [
        ("text", (), "Read this policy with the MoPI APP."),
        ("text", ("Retention",), "Forces keep records only as long as needed."),
        ("text", ("Retention", "Record groups", "Group 1"), "Certain public protection matters."),
        (
            "table",
            ("Retention", "Record groups", "Group 1"),
            "| Group | Review |\n| Group 1 | Retain until 100 |\n| Group 2 | 10 years |",
        ),
        ("text", ("Retention", "Record groups", "Group 1"), "Text after the table."),
        ("text", ("Retention", "Record groups", "Group 2"), "Other sexual and violent offences."),
        ("text", ("Disposal",), "Disposal is recorded."),
    ]
    assert all(block.page is None for block in loaded.blocks)


def test_docx_merged_cells_appear_once(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Group 1 (merged)"
    table.cell(0, 0).merge(table.cell(0, 2))
    for col, text in enumerate(("a", "b", "c")):
        table.cell(1, col).text = text
    path = tmp_path / "merged.docx"
    document.save(str(path))
    assert [block.text for block in load_docx(path).blocks] == ["| Group 1 (merged) |\n| a | b | c |"]


def test_docx_rejects_corrupt_and_empty(tmp_path: Path) -> None:
    text_renamed = tmp_path / "notes.docx"
    text_renamed.write_text("just some text, not a package\n", encoding="utf-8")
    with pytest.raises(LoadError) as excinfo:
        load_docx(text_renamed)
    _assert_one_line_error(excinfo, "not a readable DOCX")

    garbage_zip = tmp_path / "garbage.docx"
    with zipfile.ZipFile(garbage_zip, "w") as archive:
        archive.writestr("[Content_Types].xml", "<<< not xml")
        archive.writestr("word/document.xml", os.urandom(200))
    with pytest.raises(LoadError) as excinfo:
        load_docx(garbage_zip)
    _assert_one_line_error(excinfo, "not a readable DOCX")

    empty_doc = tmp_path / "empty.docx"
    document = docx.Document()
    document.add_paragraph("Only a title", style="Title")
    document.add_paragraph("   ")
    document.save(str(empty_doc))
    with pytest.raises(LoadError) as excinfo:
        load_docx(empty_doc)
    _assert_one_line_error(excinfo, "document has no text to index")


# --- HTML --------------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html><head><title>Retention | Police guidance</title><style>p { color: red }</style></head>
<body>
<header class="site"><a href="/">Police guidance home</a></header>
<nav><ul><li>Home</li><li>Guidance</li></ul></nav>
<main>
<h1>Retention guidance</h1>
<p>This page <b>explains</b> retention.<!-- editorial note --></p>
<h2>Record groups</h2>
<div>Text directly in a div.<p>A paragraph in the div.</p>More loose text.</div>
<h3>Group 1</h3>
<ul><li>Retain until 100<ul><li>Review every 10 years</li></ul></li><li><p>Kept whole</p></li></ul>
<table>
  <tr><th>Group</th><th>Review</th></tr>
  <tr><td><h4>Group 2</h4></td><td>10 years</td></tr>
</table>
<h2>Disposal</h2>
<p>Disposal is recorded.</p>
<script>document.write("tracking");</script>
</main>
<aside>Related links</aside>
<footer>Crown copyright</footer>
</body></html>
"""


def test_html_heading_paths_tables_and_chrome(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(_PAGE, encoding="utf-8")
    loaded = load_html(path)
    assert loaded.metadata == {"title": "Retention guidance"}
    assert [(block.kind, block.headings, block.text) for block in loaded.blocks] == [
        ("text", (), "This page explains retention."),
        ("text", ("Record groups",), "Text directly in a div."),
        ("text", ("Record groups",), "A paragraph in the div."),
        ("text", ("Record groups",), "More loose text."),
        ("text", ("Record groups", "Group 1"), "Retain until 100"),
        ("text", ("Record groups", "Group 1"), "Review every 10 years"),
        ("text", ("Record groups", "Group 1"), "Kept whole"),
        ("table", ("Record groups", "Group 1"), "| Group | Review |\n| Group 2 | 10 years |"),
        ("text", ("Disposal",), "Disposal is recorded."),
    ]


def test_html_several_h1s_stay_in_paths_and_title_tag_is_used(tmp_path: Path) -> None:
    path = tmp_path / "two.html"
    path.write_text(
        "<html><head><title> Two parts </title></head><body>"
        "<h1>Part A</h1><h2>Intro</h2><p>a text</p><h3>Detail</h3><p>detail text</p>"
        "<h2>Next</h2><p>next text</p><h1>Part B</h1><p>b text</p></body></html>",
        encoding="utf-8",
    )
    loaded = load_html(path)
    assert loaded.metadata == {"title": "Two parts"}
    assert [(block.headings, block.text) for block in loaded.blocks] == [
        (("Part A", "Intro"), "a text"),
        (("Part A", "Intro", "Detail"), "detail text"),
        (("Part A", "Next"), "next text"),
        (("Part B",), "b text"),
    ]


def test_html_charset_rescues_only_non_utf8(tmp_path: Path) -> None:
    declared = tmp_path / "latin1.html"
    declared.write_bytes('<meta charset="iso-8859-1"><p>Résumé of records</p>'.encode("latin-1"))
    assert [block.text for block in load_html(declared).blocks] == ["Résumé of records"]

    undeclared = tmp_path / "undeclared.html"
    undeclared.write_bytes("<p>Résumé of records</p>".encode("latin-1"))
    with pytest.raises(LoadError) as excinfo:
        load_html(undeclared)
    _assert_one_line_error(excinfo, "not valid UTF-8")


def test_html_rejects_empty_and_textless(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    with pytest.raises(LoadError) as excinfo:
        load_html(empty)
    _assert_one_line_error(excinfo, "empty")

    chrome_only = tmp_path / "chrome.html"
    chrome_only.write_text("<html><body><nav>Home</nav><script>x()</script></body></html>", encoding="utf-8")
    with pytest.raises(LoadError) as excinfo:
        load_html(chrome_only)
    _assert_one_line_error(excinfo, "no text to index")
