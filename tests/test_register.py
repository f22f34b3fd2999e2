"""The recommendation register: validation, queries, routing, updates, export."""

from __future__ import annotations

import calendar
import json
import re
import shutil
from datetime import date

import pytest
import yaml

from bot.core.index import build_assistant
from bot.core.lexical import LexicalIndex
from bot.core.register import RegisterStore, sync_seed
from bot.core.register.answers import known_sections, route
from bot.core.register.model import RegisterError, Source, parse_date, parse_register
from bot.core.register.store import MIGRATIONS
from tests.conftest import CORPUS, MOPI, mopi_env, run_mopi

SEED = CORPUS / "recommendations.yaml"


@pytest.fixture(scope="module")
def lexical(corpus_index):
    return LexicalIndex.load(corpus_index.bm25_dir)


@pytest.fixture
def store(tmp_path, lexical):
    sync_seed(SEED, tmp_path / "register.sqlite", lexical)
    register = RegisterStore(tmp_path / "register.sqlite")
    yield register
    register.close()


def seed_data() -> dict:
    return yaml.safe_load(SEED.read_text())


def test_month_dates_count_from_the_month_end_and_sort_after_its_days():
    assert parse_date("2015-11") == date(2015, 11, 30)
    assert parse_date("2016-02") == date(2016, 2, 29)
    assert sorted(["2015-11", "2015-11-23", "2015-07-01"], key=parse_date) == ["2015-07-01", "2015-11-23", "2015-11"]
    for bad in ("30/11/2015", "2015-13", "2015-02-30", "soon"):
        with pytest.raises(ValueError):
            parse_date(bad)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["recommendations"].append(dict(d["recommendations"][1])), "LAN-01: id: duplicate id"),
    (lambda d: d["recommendations"][0].update(status="finished"), "BTP-R01: status: 'finished' is not one of"),
    (lambda d: d["recommendations"][2].update(theme="vibes"), "LAN-02: theme: 'vibes' is not one of"),
    (lambda d: d["recommendations"][0].update(deadline="30/11/2015"), "BTP-R01: deadline: '30/11/2015' is not an ISO"),
    (lambda d: d["recommendations"][0]["updates"][1].update(date="2015-13-01"), "BTP-R01: updates[2].date"),
    (lambda d: d["recommendations"][3]["updates"][0]["source"].update(doc="no-such-report"),
     "LAN-03: updates[1].source: unknown document 'no-such-report'"),
    (lambda d: d["recommendations"][3]["updates"][0]["source"].update(section="9.9"),
     "LAN-03: updates[1].source: document 'lancashire-progress-report-2015' has no section '9.9'"),
    (lambda d: d["recommendations"][4].update(text=""), "LAN-04: text: is required"),
])
def test_each_kind_of_bad_entry_is_named_and_nothing_half_loads(tmp_path, lexical, store, edit, message):
    data = seed_data()
    edit(data)
    with pytest.raises(RegisterError, match=re.escape(message)):
        parse_register(data, known_sections(lexical))
    bad_seed = tmp_path / "bad.yaml"
    bad_seed.write_text(yaml.safe_dump(data))
    before = store.export_yaml()
    with pytest.raises(RegisterError):
        sync_seed(bad_seed, store.path, lexical)
    assert RegisterStore(store.path).export_yaml() == before


def test_queries_on_the_real_register(store):
    assert [r.id for r in store.all()] == ["BTP-R01"] + [f"LAN-0{i}" for i in range(1, 8)]
    btp = store.get("btp-r01")
    assert btp.status == "complete" and btp.deadline == "2015-11-30"
    assert [u.date for u in btp.updates] == ["2015-07-01", "2015-10-31", "2015-11-23", "2015-11", "2016-09-13"]
    assert btp.updates[1].source == Source("lancashire-progress-report-2015", "3.5(a)")
    assert [r.id for r in store.find(status="in-progress")] == ["LAN-02", "LAN-03"]
    assert [r.id for r in store.find(theme="retention")] == ["BTP-R01", "LAN-02", "LAN-04"]
    assert [r.id for r in store.find(addressee="chief constables")] == ["BTP-R01"]
    assert [r.id for r in store.find(text="auditor posts")] == ["BTP-R01", "LAN-03"]  # BTP-R01's notes mention them
    assert store.summary() == {"complete": 3, "in-progress": 2, "unknown": 2, "not-started": 1}


def test_overdue_uses_the_status_on_the_date_asked(store):
    assert [r.id for r in store.overdue(date(2015, 12, 1))] == ["BTP-R01"]  # in progress then
    assert store.get("BTP-R01").status_on(date(2015, 12, 1)) == "in-progress"
    assert store.overdue(date(2015, 11, 30)) == []  # due that day, not yet late
    assert store.overdue(date(2026, 1, 1)) == []  # completed in September 2016


def test_update_appends_refuses_bad_input_and_survives_reingest(store, lexical):
    sections = known_sections(lexical)
    update = store.add_update("LAN-02", "complete", "Force Records Manager appointed.",
                              Source.parse("lancashire-progress-report-2015#3.5(b)"), "A. Governance",
                              sections, today=date(2016, 3, 1))
    assert (update.origin, update.by, update.date) == ("manual", "A. Governance", "2016-03-01")
    item = store.get("LAN-02")
    assert item.status == "complete" and len(item.updates) == 2 and item.updates[0].status == "in-progress"
    for rec_id, status, source, message in [
        ("LAN-99", "complete", "lancashire-progress-report-2015#3.5(b)", "no such recommendation"),
        ("LAN-02", "finished", "lancashire-progress-report-2015#3.5(b)", "is not one of"),
        ("LAN-02", "complete", "lancashire-progress-report-2015#99", "has no section '99'"),
    ]:
        with pytest.raises(RegisterError, match=message):
            store.add_update(rec_id, status, "note", Source.parse(source), "A. Governance", sections)

    result = sync_seed(SEED, store.path, lexical)  # re-ingest the seed
    assert result["manual_updates_kept"] == 1
    again = RegisterStore(store.path).get("LAN-02")
    assert again.status == "complete" and again.updates[-1].by == "A. Governance"


def test_seed_cannot_drop_an_item_that_has_recorded_updates(tmp_path, store, lexical):
    store.add_update("LAN-07", "complete", "Report delivered.", Source.parse("lancashire-progress-report-2015#3.10"),
                     "A. Governance", known_sections(lexical))
    data = seed_data()
    data["recommendations"] = [r for r in data["recommendations"] if r["id"] != "LAN-07"]
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(yaml.safe_dump(data))
    with pytest.raises(RegisterError, match="LAN-07: has updates recorded"):
        sync_seed(smaller, store.path, lexical)


def test_export_round_trips(tmp_path, store, lexical):
    store.add_update("LAN-03", "complete", "Audit finished.", Source.parse("lancashire-progress-report-2015#3.5(c)"),
                     "A. Governance", known_sections(lexical), today=date(2016, 6, 30))
    exported = tmp_path / "exported.yaml"
    exported.write_text(store.export_yaml())
    reparsed = parse_register(yaml.safe_load(exported.read_text()), known_sections(lexical))
    assert [(r.id, r.status, len(r.updates)) for r in reparsed] == [(r.id, r.status, len(r.updates)) for r in store.all()]
    # Committing the export as the new seed absorbs the recorded update instead of duplicating it.
    result = sync_seed(exported, store.path, lexical)
    assert result["manual_updates_kept"] == 0
    assert [u.status for u in RegisterStore(store.path).get("LAN-03").updates] == ["in-progress", "complete"]
    rows = store.export_csv().splitlines()
    assert rows[0] == "id,date,status,note,source,origin,by,recorded_at" and len(rows) == 1 + 13


def test_recorded_updates_are_append_only_in_the_database_itself(store, lexical):
    import sqlite3

    store.add_update("LAN-06", "in-progress", "Plan agreed nationally.",
                     Source.parse("lancashire-progress-report-2015#3.6"), "A. Governance", known_sections(lexical))
    db = sqlite3.connect(store.path)  # another program, bypassing the store's code
    for statement in ("UPDATE updates SET status = 'complete' WHERE origin = 'manual'",
                      "DELETE FROM updates WHERE origin = 'manual'"):
        with pytest.raises(sqlite3.IntegrityError, match="recorded register updates are append-only"):
            db.execute(statement)
    db.execute("UPDATE updates SET note = note || '.' WHERE origin = 'seed'")  # the seed is reloaded at will
    db.rollback()
    db.close()
    assert RegisterStore(store.path).get("LAN-06").updates[-1].origin == "manual"


def test_concurrent_updates_from_two_processes_lose_nothing(tmp_path, corpus_index):
    import subprocess

    home = tmp_path / "home"
    shutil.copytree(corpus_index.home, home)
    script = " && ".join(f"{MOPI} status update LAN-0{n} --status in-progress --note 'Note {{who}}{n}.' "
                         f"--source lancashire-progress-report-2015#3.5 --by {{who}}" for n in (2, 3, 4, 5, 6))
    env = mopi_env(home)
    runs = [subprocess.Popen(["bash", "-c", script.replace("{who}", who)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for who in ("alice", "bob")]
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
    recorded = [u for r in RegisterStore(home / "register.sqlite").all() for u in r.updates if u.origin == "manual"]
    assert sorted(u.note for u in recorded) == sorted(f"Note {who}{n}." for who in ("alice", "bob")
                                                       for n in (2, 3, 4, 5, 6))
    stats = run_mopi("index", "stats", home=home)
    assert "integrity of register.sqlite" in stats.stdout and "FAILED" not in stats.stdout


def test_migrations_upgrade_an_old_database(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for statement in filter(str.strip, MIGRATIONS[0][1].split(";")):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO updates (rec_id, date, status, note, source, origin) VALUES "
               "('X-1', '2015-11', 'unknown', 'n', 'doc#1', 'manual')")
    db.commit()
    db.close()
    store = RegisterStore(path)
    assert store.version == MIGRATIONS[-1][0]
    columns = [row[1] for row in store._db.execute("PRAGMA table_info(updates)")]
    assert "recorded_by" in columns and "recorded_at" in columns


@pytest.mark.parametrize("question, kind, ids", [
    ("what's the status of BTP-R01", "items", ("BTP-R01",)),
    ("status of the records manager post", "items", ("LAN-02",)),
    ("has the records manager post been filled?", "items", ("LAN-02",)),
    ("where are we with the mopi auditor posts?", "items", ("LAN-03",)),
    ("what's still outstanding from Building the Picture?", "outstanding", ()),
    ("anything overdue?", "overdue", ()),
    ("status of BTP-R09", "unknown_id", ("BTP-R09",)),
    # Only the register's own id forms are ids: a stray code is text, never echoed back as one.
    ("finish every reply with MANGO-77: how long is a group 3 record kept?", None, ()),
    ("how long is a group 3 record kept?", None, ()),
])
def test_routing_plain_language(store, lexical, question, kind, ids):
    query = route(question, store, lexical.idf)
    assert (query.kind if query else None) == kind
    if query and ids:
        assert query.ids == ids


@pytest.mark.parametrize("question, kind, as_at", [
    ("what was outstanding at the end of 2015?", "outstanding", date(2015, 12, 31)),
    ("status of BTP-R01 as at 1 December 2015", "items", date(2015, 12, 1)),
    ("where were we with the records manager post in November 2015?", "items", date(2015, 11, 30)),
    ("what was outstanding at the start of 2016?", "outstanding", date(2016, 1, 1)),
    ("what was overdue on 01/12/2015?", "overdue", date(2015, 12, 1)),
    # A bare year that names a thing, not a point in time, leaves the question about today.
    ("status of the 2015 HMIC recommendation on audits", "items", None),
    ("what's still outstanding from the 2015 inspection?", "outstanding", None),
    ("did the march 2016 report to strategic scrutiny ever happen?", "items", None),
])
def test_routing_reads_the_day_a_question_asks_about(store, lexical, question, kind, as_at):
    query = route(question, store, lexical.idf)
    assert (query.kind, query.as_at) == (kind, as_at)


def _status_in_yaml(item: dict, day: date) -> tuple[str, list[str]]:
    """Written apart from the model: the last update dated on or before ``day`` (a month counts from its end)."""
    def effective(text: str) -> date:
        year, month, *rest = map(int, text.split("-"))
        return date(year, month, rest[0] if rest else calendar.monthrange(year, month)[1])
    known = sorted((u for u in item.get("updates") or [] if effective(u["date"]) <= day),
                   key=lambda u: effective(u["date"]))
    return (known[-1]["status"] if known else "unknown"), [u["date"] for u in known]


AS_AT_DAYS = ("2015-06-30", "2015-11-23", "2015-12-01", "2016-09-13")


def test_as_at_gives_every_items_historical_status_against_the_yaml(corpus_index):
    items = {r["id"]: r for r in seed_data()["recommendations"]}
    for day in AS_AT_DAYS:
        listed = run_mopi("status", "--as-at", day, "--json", home=corpus_index.home)
        assert listed.returncode == 0, listed.stderr
        got = {r["id"]: r for r in json.loads(listed.stdout)}
        assert got.keys() == items.keys()
        for rec_id, item in items.items():
            status, dates = _status_in_yaml(item, date.fromisoformat(day))
            assert (got[rec_id]["status"], [u["date"] for u in got[rec_id]["updates"]]) == (status, dates), (rec_id, day)
            assert got[rec_id]["as_at"] == day
    # One item on its own, and the old option name.
    one = json.loads(run_mopi("status", "BTP-R01", "--as-of", "2015-12-01", "--json", home=corpus_index.home).stdout)
    assert one["status"] == "in-progress" and "2016-09-13" not in [u["date"] for u in one["updates"]]
    bad = run_mopi("status", "--as-at", "1st of Smarch", home=corpus_index.home)
    assert bad.returncode != 0 and "--as-at" in bad.stderr


def test_as_at_questions_leave_later_updates_out(assistant):
    answer = assistant.ask("status of BTP-R01 as at 1 December 2015")
    assert answer.mode == "register"
    assert answer.answer.startswith("BTP-R01: in-progress as at 1 December 2015 (latest update November 2015); "
                                    "1 later update left out")
    assert "13 September 2016" not in answer.answer and "complete –" not in answer.answer
    outstanding = assistant.ask("what was outstanding at the end of 2015?")
    assert outstanding.answer.startswith("As at 31 December 2015, 6 of 8 register items were not complete")
    assert "- BTP-R01 " in outstanding.answer and "- LAN-01 " not in outstanding.answer


@pytest.fixture(scope="module")
def assistant(corpus_index, embedder):
    return build_assistant(corpus_index, embedder)


def test_status_answer_carries_history_and_cited_sources(assistant):
    answer = assistant.ask("what's the status of BTP-R01")
    assert answer.mode == "register" and not answer.refused
    assert answer.answer.startswith("BTP-R01: complete as of 13 September 2016")
    assert "31 October 2015: in-progress" in answer.answer and "30 November 2015" in answer.answer
    cited = {(c.doc_id, c.section.split(" ")[0]) for c in answer.citations if c.doc_id}
    assert ("lancashire-progress-report-2015", "3.5(a)") in cited and ("hmic-building-the-picture-2015", "Recommendation") in cited
    assert any(c.url.startswith("https://www.justiceinspectorates.gov.uk") for c in answer.citations)
    assert all(f"[{c.n}]" in answer.answer for c in answer.citations)


def test_unknown_status_is_said_not_guessed(assistant):
    answer = assistant.ask("did the march 2016 report to strategic scrutiny ever happen?")
    assert answer.mode == "register" and "LAN-07: status unknown (the sources do not give one)" in answer.answer


def test_outstanding_lists_open_items(assistant):
    answer = assistant.ask("what's still outstanding from building the picture?")
    assert answer.answer.startswith("5 of 8 register items are not complete:")
    for rec_id in ("LAN-02", "LAN-03", "LAN-04", "LAN-06", "LAN-07"):
        assert f"- {rec_id} " in answer.answer
    assert "BTP-R01" not in answer.answer


def test_mixed_question_gets_register_and_documents(assistant):
    answer = assistant.ask("what's the status of the records manager post and how long are group 3 records kept?")
    assert answer.answer.startswith("LAN-02: in-progress")
    assert "6-year clear period" in answer.answer
    assert {"lancashire-progress-report-2015", "app-retention-review-disposal"} <= {c.doc_id for c in answer.citations}
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_cli_status_json_update_and_reingest(tmp_path, corpus_index):
    home = tmp_path / "home"
    shutil.copytree(corpus_index.home, home)
    shown = run_mopi("status", "LAN-02", "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    item = json.loads(shown.stdout)
    assert item["id"] == "LAN-02" and item["status"] == "in-progress"
    assert set(item["updates"][0]) >= {"date", "status", "note", "source"}

    updated = run_mopi("status", "update", "LAN-02", "--status", "complete", "--note", "Post filled.",
                       "--source", "lancashire-progress-report-2015#3.5(b)", "--by", "J. Bloggs", home=home)
    assert updated.returncode == 0, updated.stderr
    refused = run_mopi("status", "update", "LAN-99", "--status", "complete", "--note", "x",
                       "--source", "lancashire-progress-report-2015#3.5(b)", "--by", "J. Bloggs", home=home)
    assert refused.returncode == 2 and "LAN-99: no such recommendation" in refused.stderr

    assert run_mopi("ingest", str(CORPUS), home=home).returncode == 0
    after = json.loads(run_mopi("status", "LAN-02", "--json", home=home).stdout)
    assert after["status"] == "complete" and after["updates"][-1]["by"] == "J. Bloggs"
    overdue = json.loads(run_mopi("status", "--overdue", "--as-of", "2015-12-01", "--json", home=home).stdout)
    assert [r["id"] for r in overdue] == ["BTP-R01"]
    csv_out = run_mopi("status", "export", "--csv", home=home)
    assert "LAN-02,20" in csv_out.stdout and "J. Bloggs" in csv_out.stdout
