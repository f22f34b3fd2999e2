"""Fuzzed inputs (Hypothesis), with a fixed example budget and fixed seeds so the suite stays fast and a
failure reproduces: loaders, front matter, the register seed and Slack payloads. Every case must end in a
clear one-line error, or be ignored with a log line; none may crash, hang or half-write a database."""

from __future__ import annotations

import hashlib
import http.client
import hmac
import io
import json
import logging
import random
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import docx
import pytest
import yaml
from fpdf import FPDF
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.core.index import build_assistant
from bot.core.lexical import LexicalIndex
from bot.core.register import RegisterError, sync_seed
from bot.core.register.model import parse_register
from ingest.loaders import load_file
from ingest.metadata import build_meta, split_front_matter
from ingest.model import Block, LoadedFile, LoadError
from ingest.pipeline import FAILED
from tests.fake_slack import FakeSlack, event_callback
from tests.test_slack_app import SECRET, Bot, make_deps

# derandomize: the same examples on every run (a CI failure reproduces locally); database=None: no example
# database to replay from. The deadline is off because the 2-core CI machine is shared; pytest-timeout
# catches a hang.
FUZZ = hypothesis_settings(max_examples=60, derandomize=True, database=None, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUFFIXES = (".pdf", ".docx", ".html", ".md", ".txt")


def _one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message and len(message) < 400


def _load(folder: Path, name: str, data: bytes) -> LoadedFile | LoadError:
    path = folder / name
    path.write_bytes(data)
    try:
        loaded = load_file(path)
    except LoadError as exc:
        assert _one_line(str(exc)), repr(str(exc))
        assert str(folder) not in str(exc), "the message is safe to show: no paths"
        return exc
    assert all(isinstance(b, Block) and isinstance(b.text, str) for b in loaded.blocks)
    assert isinstance(loaded.metadata, dict)
    return loaded


# -- documents made here, then damaged ---------------------------------------------------------------


def _pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "1. Retention\n1.1 Group 3 records are reviewed after a clear period of six years.\n"
                         "1.2 Group 2 records are reviewed after ten years.")
    return bytes(pdf.output())


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Retention", level=1)
    document.add_paragraph("Group 3 records are reviewed after a clear period of six years.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Group", "Period"
    table.cell(1, 0).text, table.cell(1, 1).text = "3", "6 years"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


PDF, DOCX = _pdf_bytes(), _docx_bytes()


def _damaged(original: bytes):
    """Truncated, bit-flipped, or both, at positions Hypothesis picks."""
    flips = st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 7)), max_size=8)
    return st.tuples(st.integers(0, len(original)), flips).map(lambda cut_flips: _apply(original, *cut_flips))


def _apply(original: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(original)
    for pos, bit in flips:
        data[pos] ^= 1 << bit
    return bytes(data[:cut])


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_in_any_supported_format(tmp_path, data, suffix):
    _load(tmp_path, f"doc{suffix}", data)


@FUZZ
@given(data=_damaged(PDF))
def test_truncated_or_bit_flipped_pdf(tmp_path, data):
    _load(tmp_path, "report.pdf", data)


@FUZZ
@given(data=_damaged(DOCX))
def test_truncated_or_bit_flipped_docx(tmp_path, data):
    _load(tmp_path, "report.docx", data)


def test_the_undamaged_documents_load(tmp_path):
    """The originals the damage starts from are good documents, so the damaged cases test damage."""
    for name, data in (("a.pdf", PDF), ("a.docx", DOCX)):
        loaded = _load(tmp_path, name, data)
        assert isinstance(loaded, LoadedFile) and "six years" in " ".join(b.text for b in loaded.blocks)


_TAGS = st.sampled_from(["div", "p", "h1", "h2", "h3", "table", "tr", "td", "ul", "li", "span", "section",
                         "script", "style", "nav", "b", "x-unknown"])


def _html(depth: int, tags: list[str], text: str, close: bool) -> str:
    opened = "".join(f"<{tags[i % len(tags)]} class='c{i}'>" for i in range(depth))
    closed = "".join(f"</{tags[i % len(tags)]}>" for i in reversed(range(depth))) if close else ""
    return f"<html><head><title>T</title></head><body>{opened}{text}{closed}</body></html>"


@hypothesis_settings(FUZZ, max_examples=25)
@given(depth=st.one_of(st.integers(0, 50), st.integers(900, 2500)), tags=st.lists(_TAGS, min_size=1, max_size=5),
       text=st.text(max_size=200), close=st.booleans(), junk=st.text(alphabet="<>/&;!-'\"= ab", max_size=200))
def test_deeply_nested_or_malformed_html(tmp_path, depth, tags, text, close, junk):
    _load(tmp_path, "page.html", (_html(depth, tags, text, close) + junk).encode("utf-8", "surrogatepass"))


# -- front matter with wrong types ---------------------------------------------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                     st.dates(), st.just("2023-07-20"), st.just("current"))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                              max_size=3), max_leaves=6)
_FIELDS = ("id", "title", "status", "publisher", "doc_type", "source_url", "published", "supersedes",
           "protective_marking", "effective_from", "review_due")


@FUZZ
@given(front=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=len(_FIELDS)))
def test_front_matter_with_wrong_types(tmp_path, front):
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n# Heading\n\nSome body text.\n"
    loaded = _load(tmp_path, "doc.md", text.encode("utf-8", "surrogatepass"))
    if isinstance(loaded, LoadError):
        return
    try:
        meta = build_meta(loaded.metadata)
    except LoadError as exc:
        assert _one_line(str(exc)), repr(str(exc))
        return
    assert meta.id and meta.title and meta.status
    for name in ("effective_from", "review_due"):
        value = getattr(meta, name)
        assert value == "" or date.fromisoformat(value)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_front_matter_text_parses_or_says_why(text):
    try:
        front, _ = split_front_matter(f"---\n{text}\n---\nbody")
    except LoadError as exc:
        assert _one_line(str(exc))
        return
    assert isinstance(front, dict)


# -- a batch: damaged files beside good ones ----------------------------------------------------------


def test_a_batch_of_damaged_files_fails_each_one_clearly_and_indexes_the_rest(tmp_path, ingest, settings):
    """Fuzzed files in one ingest: each bad one is reported on one line, the good ones are indexed, and
    the state database is whole; the same folder again changes nothing."""
    rng = random.Random(13)
    folder = tmp_path / "docs"
    folder.mkdir()
    good = "---\nid: good-{n}\ntitle: Good {n}\nstatus: current\n---\n# Retention\n\nGroup {n} text here.\n"
    for n in (1, 2):
        (folder / f"good{n}.md").write_text(good.format(n=n))
    for n in range(16):
        kind = n % 4
        if kind == 0:
            name, data = f"bad{n}.pdf", _apply(PDF, rng.randrange(len(PDF) // 2), [])
        elif kind == 1:
            name, data = f"bad{n}.docx", _apply(DOCX, len(DOCX), [(rng.randrange(len(DOCX)), rng.randrange(8))
                                                                  for _ in range(40)])
        elif kind == 2:
            name, data = f"bad{n}.md", f"---\nid: [{n}\ntitle: x\n---\nbody".encode()
        else:
            name, data = f"bad{n}.pdf", rng.randbytes(rng.randrange(1, 3000))
        (folder / name).write_bytes(data)
    report = ingest(folder)
    indexed = {Path(o.path).name for o in report.outcomes if o.status != FAILED}
    assert {"good1.md", "good2.md"} <= indexed
    assert len(report.failures) >= 8, "truncated PDFs, random bytes and broken YAML cannot all load"
    assert all(_one_line(o.reason) for o in report.failures), [o.reason for o in report.failures]
    with sqlite3.connect(settings.state_db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = ingest(folder)
    assert again.embedded == 0, "nothing good changed, so nothing is embedded again"
    assert sorted((Path(o.path).name, o.reason) for o in again.failures) == \
        sorted((Path(o.path).name, o.reason) for o in report.failures)


# -- the register seed -------------------------------------------------------------------------------

KNOWN = {"hmic-2013": {"1", "2", "summary"}, "lancs-2015": {"3.1"}}
_GOOD_ITEM = {"id": "BTP-R01", "report": "hmic-2013", "text": "Review the records.", "addressee": "Chief Constable",
              "status": "open", "theme": "retention", "deadline": "2014-03-31",
              "updates": [{"date": "2015-11-01", "status": "in_progress", "note": "Begun.",
                           "source": {"doc": "lancs-2015", "section": "3.1"}}]}
_ITEM_KEYS = tuple(_GOOD_ITEM) + ("owner", "section", "extra_field")
_UPDATE_KEYS = ("date", "status", "note", "source", "by", "recorded_at", "surprise")


def _item():
    """A good item with fields dropped, added, or replaced by values of the wrong type."""
    update = st.fixed_dictionaries({}, optional={k: _VALUES for k in _UPDATE_KEYS})
    changes = st.fixed_dictionaries({}, optional={**{k: _VALUES for k in _ITEM_KEYS},
                                                  "updates": st.one_of(_VALUES, st.lists(update, max_size=3))})
    dropped = st.sets(st.sampled_from(tuple(_GOOD_ITEM)))
    return st.tuples(dropped, changes).map(
        lambda dc: {**{k: v for k, v in _GOOD_ITEM.items() if k not in dc[0]}, **dc[1]})


@FUZZ
@given(data=st.one_of(_VALUES, st.fixed_dictionaries({"recommendations": st.one_of(_VALUES, st.lists(_item(),
                                                                                                    max_size=4))})))
def test_register_seed_with_missing_extra_or_wrongly_typed_fields(data):
    try:
        items = parse_register(data, KNOWN)
    except RegisterError as exc:
        assert _one_line(str(exc).split("; ")[0]) and "\n" not in str(exc)
        return
    for item in items:
        assert item.id and item.report in KNOWN
        for u in item.updates:
            assert u.effective


def test_a_bad_seed_leaves_the_register_database_as_it_was(tmp_path, corpus_index):
    """All or nothing, fuzzed: a seed broken on one line is refused with a message and the register the
    database held stays exactly as it was; a change that happens to be valid becomes the new baseline."""
    lexical = LexicalIndex.load(corpus_index.bm25_dir)
    original = (corpus_index.corpus_dir / "recommendations.yaml").read_text(encoding="utf-8").splitlines()
    db = tmp_path / "register.sqlite"
    db.write_bytes(corpus_index.register_db.read_bytes())
    before, refused = _dump(db), 0
    rng = random.Random(7)
    seed = tmp_path / "recommendations.yaml"
    for _ in range(25):
        lines = list(original)
        i = rng.randrange(len(lines))
        lines[i] = rng.choice([lines[i].replace("201", "2019-13-4"), lines[i] + " [", "  status: nonsense",
                               lines[i].replace(":", ""), "\t" + lines[i], lines[i].replace("R0", "?"),
                               lines[i].replace("section: ", "section: 99.")])
        seed.write_text("\n".join(lines), encoding="utf-8")
        try:
            sync_seed(seed, db, lexical)
        except RegisterError as exc:
            refused += 1
            assert str(exc).strip() and "\n" not in str(exc)
            assert _dump(db) == before
        else:
            before = _dump(db)
    assert refused >= 10, "most one-line breakages are caught"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _dump(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


# -- Slack payloads, over signed HTTP ---------------------------------------------------------------

@pytest.fixture(scope="module")
def slack_bot(tmp_path_factory, corpus_index, embedder):
    """The real app and core on 127.0.0.1, against the fake Slack; one for the module (the examples share it)."""
    patch = pytest.MonkeyPatch()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):  # slack_sdk honours them for 127.0.0.1
        patch.delenv(name, raising=False)
    audit = tmp_path_factory.mktemp("fuzz-slack-audit")
    assistant = build_assistant(corpus_index, embedder)
    with FakeSlack() as fake:
        served = Bot(fake, make_deps(assistant, audit), corpus_index.home)
        yield served
        served.close()
    patch.undo()


class _Errors(logging.Handler):
    """Log records at ERROR and above: a listener that crashed, or a request Bolt could not handle."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def errors():
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


def _post_raw(bot, body: bytes, content_type: str = "application/json", signed: bool = True) -> tuple[int, bytes]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": "v0=" + digest if signed else "v0=0"}
    request = urllib.request.Request(bot.url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_ANY_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                     max_size=3), max_leaves=8)


@FUZZ
@given(body=st.one_of(st.binary(max_size=600), st.text(max_size=600).map(str.encode),
                      _ANY_JSON.map(lambda v: json.dumps(v).encode())),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
def test_malformed_bodies_get_a_client_error_and_the_app_stays_up(slack_bot, errors, body, content_type):
    status, _ = _post_raw(slack_bot, body, content_type)
    assert 200 <= status < 500, status
    assert not [r for r in errors if r.exc_info], [r.getMessage() for r in errors]


_EVENT_TYPES = st.sampled_from(["app_mention", "message", "reaction_added", "team_join", "x_unknown", ""])
_WRONG = st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=2),
                   st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2), st.just(""))
_TEXT = st.one_of(st.text(max_size=300), st.just("how long is a group 3 record kept? " * 1100))
_DROPPABLE = st.sets(st.sampled_from(["event_id", "team_id", "authorizations", "api_app_id", "event_time"]))


@FUZZ
@given(kind=_EVENT_TYPES, fields=st.fixed_dictionaries(
    {}, optional={"channel": _WRONG, "ts": _WRONG, "text": _WRONG, "user": _WRONG, "thread_ts": _WRONG,
                  "channel_type": st.sampled_from(["im", "channel", "group"]), "subtype": st.text(max_size=10)}),
    drop=_DROPPABLE)
def test_events_of_unknown_types_or_with_fields_missing_or_wrongly_typed_are_ignored(slack_bot, errors, kind,
                                                                                     fields, drop):
    event = {"type": kind, "channel": "C0FUZZ", "ts": "1700009000.000100", "user": "U0FUZZ", **fields}
    payload = {k: v for k, v in event_callback(event).items() if k not in drop}
    handled = len(slack_bot.deps.on_handled.names)
    status, _ = _post_raw(slack_bot, json.dumps(payload).encode())
    assert 200 <= status < 500, status
    if status == 200 and kind in ("app_mention", "message"):
        slack_bot.deps.on_handled.wait(handled + 1, timeout=60)  # the listener has finished with it
    assert not [r for r in errors if r.exc_info], [r.getMessage() for r in errors]


@hypothesis_settings(FUZZ, max_examples=20)
@given(text=_TEXT, user=st.sampled_from([f"U0FUZZ{n}" for n in range(40)]), thread=st.booleans(), drop=_DROPPABLE)
def test_every_mention_slack_could_send_gets_a_reply_whatever_its_text(slack_bot, errors, text, user, thread, drop):
    """Any text, up to Slack's 40,000 characters: an answer, a refusal or the help, never silence."""
    event = {"type": "app_mention", "channel": "C0FUZZ", "ts": "1700009100.000100", "user": user,
             "text": f"<@{FakeSlack.BOT_USER_ID}> {text}", **({"thread_ts": "1700009000.000100"} if thread else {})}
    payload = {k: v for k, v in event_callback(event).items() if k not in drop}
    posted = len(slack_bot.fake.calls_to("chat.postMessage"))
    status, _ = _post_raw(slack_bot, json.dumps(payload).encode())
    assert status == 200
    reply = slack_bot.fake.wait_for("chat.postMessage", count=posted + 1, timeout=60)[-1]
    assert reply["channel"] == "C0FUZZ" and reply["text"]
    assert not [r for r in errors if r.exc_info], [r.getMessage() for r in errors]


def test_after_the_fuzzing_an_ordinary_mention_still_gets_its_cited_answer(slack_bot):
    before = len(slack_bot.fake.calls_to("chat.postMessage"))
    slack_bot.event({"type": "app_mention", "user": "U0OFFICER", "channel": "C0GENERAL", "ts": "1700009999.000100",
                     "text": f"<@{FakeSlack.BOT_USER_ID}> how long is the clear period for Group 3?"})
    posted = slack_bot.fake.wait_for("chat.postMessage", count=before + 1, timeout=60)[-1]
    assert "6-year clear period" in json.dumps(posted["blocks"])


def test_a_bad_content_length_is_a_client_error(slack_bot):

    host, port = slack_bot.server.server_address[:2]
    for length in ("abc", "-5", "99999999999"):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.putrequest("POST", "/slack/events")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        conn.send(b"{}")
        assert conn.getresponse().status == 400, length
        conn.close()
