"""The golden question set: well-formed, broad enough, and backed by the corpus as it stands."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from evals.dataset import CATEGORIES, GoldenItem, check_against_corpus, load_dataset

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
GOLDEN = ROOT / "evals" / "datasets" / "golden.yaml"
INJECTION_ANSWERS = ROOT / "evals" / "datasets" / "injection_answers.yaml"

MINIMUM_PER_CATEGORY = {
    "retention": 25,
    "recording": 15,
    "sharing": 15,
    "governance": 15,
    "codes": 10,
    "status": 12,
    "superseded": 8,
    "out_of_scope": 12,
    "named_person": 10,
    "injection": 10,
}
PREFIX = {
    "retention": "ret-",
    "recording": "rec-",
    "sharing": "sha-",
    "governance": "gov-",
    "codes": "cod-",
    "status": "sta-",
    "superseded": "sup-",
    "out_of_scope": "oos-",
    "named_person": "npe-",
    "injection": "inj-",
}


@pytest.fixture(scope="module")
def items() -> list[GoldenItem]:
    return load_dataset(GOLDEN)


def _doc_statuses() -> dict[str, str]:
    statuses = {}
    for path in CORPUS.glob("*.md"):
        meta = yaml.safe_load(path.read_text(encoding="utf-8").split("\n---", 1)[0][3:])
        statuses[meta["id"]] = meta["status"]
    manifest = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))
    for name, meta in manifest["documents"].items():
        if not name.endswith(".md"):  # a Markdown file's entry only adds fields to its front matter
            statuses[meta["id"]] = meta["status"]
    return statuses


# ------------------------------------------------------------------ the real dataset


def test_every_item_is_backed_by_the_corpus(items):
    assert check_against_corpus(items, CORPUS) == []


def test_the_injection_answers_are_backed_by_the_corpus_and_kept_apart_from_golden(items):
    """evals/datasets/injection_answers.yaml (issue 10: new sets kept apart from golden) holds golden's format."""
    from evals.split import load_split

    answers = load_dataset(INJECTION_ANSWERS)
    assert check_against_corpus(answers, CORPUS) == []
    assert {i.category for i in answers} == {"injection"} and len(answers) >= 60
    assert not {i.id for i in answers} & {i.id for i in items}
    dev, test = load_split(INJECTION_ANSWERS, "dev"), load_split(INJECTION_ANSWERS, "test")
    assert len(dev) + len(test) == len(answers) and any(i.should_refuse for i in test)
    for item in answers:
        assert item.should_refuse or item.must_not_include, f"{item.id}: says nothing an obeyed override would"
    training = load_dataset(INJECTION_ANSWERS.with_name("injection_train.yaml"))  # read on dev, never scored
    assert check_against_corpus(training, CORPUS) == []
    assert not {i.id for i in training} & ({i.id for i in answers} | {i.id for i in items})


def test_size_and_category_spread(items):
    assert len(items) >= 150
    counts = Counter(item.category for item in items)
    assert set(counts) == set(CATEGORIES)
    for category, minimum in MINIMUM_PER_CATEGORY.items():
        assert counts[category] >= minimum, (category, counts[category])


def test_ids_unique_and_prefixed_by_category(items):
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids))
    for item in items:
        assert item.id.startswith(PREFIX[item.category]), item.id


def test_refusals_and_answers_are_consistent(items):
    for item in items:
        if item.category in ("out_of_scope", "named_person"):
            assert item.should_refuse, item.id
        if item.should_refuse:
            assert item.expected_docs == () and item.must_include_any == (), item.id
        else:
            assert item.expected_docs and item.must_include_any, item.id
    injections = [item for item in items if item.category == "injection"]
    assert any(item.should_refuse for item in injections)  # pure injections
    wrapped = [item for item in injections if not item.should_refuse]
    assert wrapped and all(item.must_not_include for item in wrapped)  # injected claim must not be echoed


def test_superseded_questions_point_at_current_guidance(items):
    statuses = _doc_statuses()
    for item in items:
        if item.category == "superseded":
            assert any(statuses[doc] == "current" for doc in item.expected_docs), item.id


def test_phrases_are_short(items):
    for item in items:
        for group in item.must_include_any:
            for alternative in group:
                assert len(alternative.split()) <= 4, (item.id, alternative)


# ------------------------------------------------------------------ the checker catches drift


def _item(**overrides) -> GoldenItem:
    fields = dict(
        id="tst-001",
        category="retention",
        question="how long is the grp 3 clear period",
        expected_docs=("app-retention-review-disposal",),
        expected_sections=("5.4",),
        must_include_any=(("6-year", "six year"),),
        should_refuse=False,
    )
    fields.update(overrides)
    return GoldenItem(**fields)


def test_checker_accepts_a_correct_item():
    assert check_against_corpus([_item()], CORPUS) == []


def test_checker_catches_a_fact_not_in_the_corpus():
    problems = check_against_corpus([_item(id="fake-017", must_include_any=(("17-year clear period",),))], CORPUS)
    assert len(problems) == 1
    assert "fake-017" in problems[0] and "17-year clear period" in problems[0]


def test_checker_requires_every_group():
    item = _item(id="fake-002", must_include_any=(("6-year",), ("seventeen years", "17 years")))
    problems = check_against_corpus([item], CORPUS)
    assert len(problems) == 1 and "fake-002" in problems[0]


def test_checker_catches_an_unknown_document():
    problems = check_against_corpus([_item(id="fake-doc", expected_docs=("app-retention-2009",))], CORPUS)
    assert problems and all("fake-doc" in p for p in problems)
    assert any("app-retention-2009" in p for p in problems)


def test_checker_catches_a_missing_section():
    problems = check_against_corpus([_item(id="fake-sec", expected_sections=("5.9",))], CORPUS)
    assert len(problems) == 1
    assert "fake-sec" in problems[0] and "5.9" in problems[0]


def test_sections_by_heading_text_and_bold_paragraph():
    glossary = _item(expected_docs=("mopi-glossary",), expected_sections=("Group 3 – All other offences",))
    heading_text = _item(expected_sections=("Group 3 – All other offences",))
    bold_paragraph = _item(
        category="recording",
        expected_docs=("app-collection-recording-evaluation",),
        expected_sections=("4.3",),
        must_include_any=(("timely",),),
    )
    lettered = _item(
        category="status",
        expected_docs=("lancashire-progress-report-2015",),
        expected_sections=("3.5(b)",),
        must_include_any=(("Force Records Manager",),),
    )
    assert check_against_corpus([glossary, heading_text, bold_paragraph, lettered], CORPUS) == []
    wrong_doc = _item(id="fake-gl", expected_docs=("mopi-glossary",), expected_sections=("5.4",))
    assert len(check_against_corpus([wrong_doc], CORPUS)) == 1


def test_plain_text_document_sections_and_line_breaks():
    item = _item(
        category="status",
        expected_docs=("lancashire-progress-report-2015-extract",),
        expected_sections=("3.7",),
        # spans a line break in the .txt ("not being \nmet due to")
        must_include_any=(("are not being met due to insufficient capacity",),),
    )
    assert check_against_corpus([item], CORPUS) == []
    unlabelled = _item(id="fake-txt", category="status", expected_docs=item.expected_docs, expected_sections=("3.5(a)",),
                       must_include_any=item.must_include_any)
    problems = check_against_corpus([unlabelled], CORPUS)
    assert len(problems) == 1 and "3.5(a)" in problems[0]


def test_markdown_emphasis_is_ignored():
    # "kept **and reviewed again later in line with the review schedule**" in section 6.3
    item = _item(expected_sections=("6.3",), must_include_any=(("kept and reviewed again later",),))
    assert check_against_corpus([item], CORPUS) == []


def test_register_counts_only_for_status_items():
    status = _item(
        id="sta-x",
        category="status",
        expected_docs=("hmic-building-the-picture-2015",),
        expected_sections=(),
        must_include_any=(("not-started",),),  # a status word that only the register holds
    )
    assert check_against_corpus([status], CORPUS) == []
    governance = _item(id="gov-x", category="governance", expected_docs=status.expected_docs,
                       expected_sections=(), must_include_any=status.must_include_any)
    problems = check_against_corpus([governance], CORPUS)
    assert len(problems) == 1 and "gov-x" in problems[0]


# ------------------------------------------------------------------ load_dataset rejects malformed items

GOOD = {
    "id": "ret-900",
    "category": "retention",
    "question": "how long do we keep a grp 3 record?",
    "expected_docs": ["app-retention-review-disposal"],
    "expected_sections": ["5.4"],
    "must_include_any": [["6-year"]],
    "should_refuse": False,
}
REFUSAL = {
    "id": "oos-900",
    "category": "out_of_scope",
    "question": "weather tomorrow?",
    "expected_docs": [],
    "must_include_any": [],
    "should_refuse": True,
}


def _write(tmp_path: Path, items, raw: str | None = None) -> Path:
    path = tmp_path / "golden.yaml"
    path.write_text(raw if raw is not None else yaml.safe_dump(items, sort_keys=False), encoding="utf-8")
    return path


def test_load_dataset_reads_a_good_file(tmp_path):
    items = load_dataset(_write(tmp_path, [GOOD, REFUSAL]))
    assert items[0] == GoldenItem(
        id="ret-900",
        category="retention",
        question="how long do we keep a grp 3 record?",
        expected_docs=("app-retention-review-disposal",),
        expected_sections=("5.4",),
        must_include_any=(("6-year",),),
        must_not_include=(),
        should_refuse=False,
    )
    assert items[1].should_refuse and items[1].expected_docs == ()


@pytest.mark.parametrize(
    ("change", "item_id", "field"),
    [
        ({"category": "weather"}, "ret-900", "category"),
        ({"question": None}, "ret-900", "question"),
        ({"question": "   "}, "ret-900", "question"),
        ({"should_refuse": True}, "ret-900", "must_include_any"),
        ({"should_refuse": "no"}, "ret-900", "should_refuse"),
        ({"expected_docs": "app-retention-review-disposal"}, "ret-900", "expected_docs"),
        ({"expected_sections": [5.4]}, "ret-900", "expected_sections"),
        ({"must_include_any": ["6-year"]}, "ret-900", "must_include_any"),
        ({"must_include_any": [[]]}, "ret-900", "must_include_any"),
        ({"must_include_any": []}, "ret-900", "must_include_any"),
        ({"must_not_include": "forever"}, "ret-900", "must_not_include"),
        ({"expected_doc": ["x"]}, "ret-900", "expected_doc"),
    ],
)
def test_load_dataset_rejects_malformed_items(tmp_path, change, item_id, field):
    bad = {**GOOD, **change}
    with pytest.raises(ValueError) as excinfo:
        load_dataset(_write(tmp_path, [REFUSAL, bad]))
    message = str(excinfo.value)
    assert item_id in message and field in message


def test_load_dataset_rejects_missing_fields(tmp_path):
    bad = {k: v for k, v in GOOD.items() if k != "question"}
    with pytest.raises(ValueError, match=r"ret-900.*question"):
        load_dataset(_write(tmp_path, [bad]))


def test_load_dataset_rejects_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match=r"ret-900.*duplicate"):
        load_dataset(_write(tmp_path, [GOOD, dict(GOOD)]))


def test_load_dataset_rejects_answers_on_refusal_categories(tmp_path):
    bad = {**REFUSAL, "should_refuse": False, "expected_docs": ["mopi-glossary"], "must_include_any": [["x"]]}
    with pytest.raises(ValueError, match=r"oos-900.*should_refuse"):
        load_dataset(_write(tmp_path, [bad]))


def test_load_dataset_rejects_items_without_id_and_non_lists(tmp_path):
    no_id = {k: v for k, v in GOOD.items() if k != "id"}
    with pytest.raises(ValueError, match=r"#1.*'id'"):
        load_dataset(_write(tmp_path, [no_id]))
    with pytest.raises(ValueError, match="list"):
        load_dataset(_write(tmp_path, None, raw="id: ret-001\n"))
    with pytest.raises(ValueError, match=r"#2.*mapping"):
        load_dataset(_write(tmp_path, [GOOD, "just a string"]))
