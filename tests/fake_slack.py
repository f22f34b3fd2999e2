"""A local fake of Slack's cloud for end-to-end tests, over real sockets on 127.0.0.1.

    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.calls_to("chat.postMessage")[0]["text"] == "hi"

Three servers, all on 127.0.0.1 with free ports:

* the Web API (``base_url``, ``http://127.0.0.1:PORT/api/``) plus slash-command
  response URLs (``response_url(key)``), one ThreadingHTTPServer;
* a Socket Mode websocket server (``socket_url``), started by
  ``enable_socket_mode()`` or lazily by ``apps.connections.open``.

Every Web API call (including injected failures and auth errors) is recorded in
``calls``; every message a Socket Mode client sends is recorded in ``socket_acks``.
Everything is guarded by one lock; waiters use a Condition on that lock.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import threading
import time
import uuid
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.signature import SignatureVerifier

try:  # websockets >= 13: the new asyncio implementation
    from websockets.asyncio.server import serve as _ws_serve

    _NEW_WEBSOCKETS = True
except ImportError:  # pragma: no cover - older websockets
    from websockets import serve as _ws_serve  # type: ignore[no-redef]

    _NEW_WEBSOCKETS = False

__all__ = ["FakeSlack", "signed_headers", "event_callback", "slash_command_payload"]

# Form fields that slack_sdk (and Slack's own docs) send as JSON strings inside
# form-encoded / multipart bodies.  Only these are decoded: decoding every value
# that looks like JSON would turn a text of "[1]" into a list.
JSON_FIELDS = frozenset({
    "blocks", "attachments", "metadata", "view", "unfurls", "user_auth_blocks",
    "options", "option_groups", "elements", "trigger", "inputs", "outputs",
    "replace_original", "delete_original",
})

BLOCK_TYPES = frozenset({
    "section", "divider", "context", "actions", "header", "image", "rich_text",
    "input", "file", "video", "markdown", "context_actions", "table", "call",
})

_TS_BASE_MICROS = 1_700_000_000_000_000  # "1700000000.000000"


class _BlockError(Exception):
    def __init__(self, message: str, pointer: str):
        super().__init__(f"[ERROR] {message} [json-pointer:{pointer}]")


def _validate_text_object(obj: Any, pointer: str, limit: int = 3000) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        raise _BlockError("must provide an object with type plain_text or mrkdwn", pointer)
    text = obj.get("text")
    if not isinstance(text, str):
        raise _BlockError("must provide a string", f"{pointer}/text")
    if len(text) == 0:
        raise _BlockError("must be more than 0 characters", f"{pointer}/text")
    if len(text) > limit:
        raise _BlockError(f"must be less than {limit + 1} characters", f"{pointer}/text")


def _walk_text_objects(obj: Any, pointer: str) -> None:
    """Generic limit: any plain_text / mrkdwn text object anywhere is at most 3000 chars."""
    if isinstance(obj, dict):
        if obj.get("type") in ("plain_text", "mrkdwn") and "text" in obj:
            _validate_text_object(obj, pointer)
        for key, value in obj.items():
            _walk_text_objects(value, f"{pointer}/{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            _walk_text_objects(value, f"{pointer}/{i}")


def _validate_element(el: Any, pointer: str) -> None:
    if not isinstance(el, dict) or not isinstance(el.get("type"), str):
        raise _BlockError("must provide an object with a type", pointer)
    if len(str(el.get("action_id", ""))) > 255:
        raise _BlockError("must be less than 256 characters", f"{pointer}/action_id")
    if el["type"] == "button":
        _validate_text_object(el.get("text"), f"{pointer}/text", limit=75)
        if el["text"]["type"] != "plain_text":
            raise _BlockError("must be plain_text", f"{pointer}/text/type")
        if len(str(el.get("value", ""))) > 2000:
            raise _BlockError("must be less than 2001 characters", f"{pointer}/value")
        if len(str(el.get("url", ""))) > 3000:
            raise _BlockError("must be less than 3001 characters", f"{pointer}/url")


def validate_blocks(blocks: Any) -> str | None:
    """Slack-like validation of a blocks list; returns an error message or None."""
    try:
        if not isinstance(blocks, list):
            raise _BlockError("must provide an array", "/blocks")
        if len(blocks) > 50:
            raise _BlockError("no more than 50 items allowed", "/blocks")
        for i, block in enumerate(blocks):
            p = f"/blocks/{i}"
            if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
                raise _BlockError("unsupported type or missing type", f"{p}/type")
            if len(str(block.get("block_id", ""))) > 255:
                raise _BlockError("must be less than 256 characters", f"{p}/block_id")
            kind = block["type"]
            if kind == "section":
                if "text" not in block and "fields" not in block:
                    raise _BlockError("must contain either text or fields", p)
                if "text" in block:
                    _validate_text_object(block["text"], f"{p}/text", limit=3000)
                fields = block.get("fields", [])
                if not isinstance(fields, list) or len(fields) > 10:
                    raise _BlockError("no more than 10 items allowed", f"{p}/fields")
                for j, f in enumerate(fields):
                    _validate_text_object(f, f"{p}/fields/{j}", limit=2000)
                if "accessory" in block:
                    _validate_element(block["accessory"], f"{p}/accessory")
            elif kind == "header":
                _validate_text_object(block.get("text"), f"{p}/text", limit=150)
                if block["text"]["type"] != "plain_text":
                    raise _BlockError("must be plain_text", f"{p}/text/type")
            elif kind == "context":
                elements = block.get("elements")
                if not isinstance(elements, list) or not elements:
                    raise _BlockError("must provide a non-empty array", f"{p}/elements")
                if len(elements) > 10:
                    raise _BlockError("no more than 10 items allowed", f"{p}/elements")
            elif kind == "actions":
                elements = block.get("elements")
                if not isinstance(elements, list) or not elements:
                    raise _BlockError("must provide a non-empty array", f"{p}/elements")
                if len(elements) > 25:
                    raise _BlockError("no more than 25 items allowed", f"{p}/elements")
                action_ids = [el.get("action_id") for el in elements if isinstance(el, dict) and el.get("action_id")]
                for j, el in enumerate(elements):
                    _validate_element(el, f"{p}/elements/{j}")
                    if el.get("action_id") and action_ids.count(el["action_id"]) > 1:
                        raise _BlockError("action_id must be unique within the block", f"{p}/elements/{j}/action_id")
            elif kind == "markdown":
                text = block.get("text")
                if not isinstance(text, str) or not text or len(text) > 12000:
                    raise _BlockError("must be a string of 1..12000 characters", f"{p}/text")
            _walk_text_objects(block, p)
    except _BlockError as e:
        return str(e)
    return None


def _error(error: str, **extra: Any) -> dict:
    return {"ok": False, "error": error, **extra}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeSlack"


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle_http(self)

    do_GET = do_POST


class FakeSlack:
    """A local fake of Slack's Web API, response URLs and Socket Mode.  Thread-safe."""

    BOT_USER_ID = "U0MOPIBOT"
    BOT_ID = "B0MOPI"
    TEAM_ID = "T0FORCE"
    TEAM = "Force"
    APP_ID = "A0MOPI"

    def __init__(self, bot_user_id: str | None = None, *, socket_mode: bool = False, host: str = "127.0.0.1",
                 ws_ping_interval: float | None = 0.2):
        """ws_ping_interval: the websocket server pings clients this often (protocol-level pings,
        answered by slack_sdk automatically).  Short by default on purpose: slack_sdk's builtin
        client only notices close() when its blocking recv() returns (3 s socket timeout), so
        frequent pings make SocketModeClient.close() take ~0.2 s instead of up to 3 s."""
        if bot_user_id is not None:
            self.BOT_USER_ID = bot_user_id
        self.host = host
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.calls: list[dict] = []
        self.socket_acks: list[dict] = []
        self._failures: dict[str, deque] = {}
        self._chaos: tuple[dict[str, float], random.Random] | None = None
        self._stubs: dict[str, Callable[[dict], dict] | dict] = {}
        self._messages: dict[str, list[dict]] = {}  # channel -> messages (any thread)
        self._reactions: dict[tuple[str, str], list[str]] = {}
        self._ts_seq = 0
        self._http: _HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        # Socket Mode
        self._socket_mode = socket_mode
        self._ws_ping_interval = ws_ping_interval
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws_thread: threading.Thread | None = None
        self._ws_server: Any = None
        self._ws_port: int | None = None
        self._ws_clients: list[Any] = []  # open connections, oldest first
        self.connections_opened = 0  # websocket connections accepted (hello sent)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "FakeSlack":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> "FakeSlack":
        with self._lock:
            if self._http is not None:
                return self
            self._http = _HTTPServer((self.host, 0), _Handler)
            self._http.fake = self
            self._http_thread = threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
                name="fake-slack-http", daemon=True)
            self._http_thread.start()
        if self._socket_mode:
            self._start_ws()
        return self

    def close(self) -> None:
        self._stop_ws()
        with self._lock:
            http, thread = self._http, self._http_thread
            self._http = self._http_thread = None
        if http is not None:
            http.shutdown()
            http.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("FakeSlack is not started")
        return self._http.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"http://{self.host}:{self.port}/response/{key}"

    # ------------------------------------------------------------------ test helpers

    def calls_to(self, method: str) -> list[dict]:
        with self._lock:
            return [c["params"] for c in self.calls if c["method"] == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c["params"] for c in self.calls if c["method"] == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen: dict[str, int] = {}
                    for c in self.calls:
                        seen[c["method"]] = seen.get(c["method"], 0) + 1
                    raise AssertionError(
                        f"expected {count} call(s) of {method!r} within {timeout}s, got {len(found)}; "
                        f"methods seen: {seen or 'none'}")
                self._cond.wait(left)

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def fail_next(self, method: str, times: int = 1, status: int = 429, retry_after: int = 1,
                  error: str | None = None) -> None:
        """The next `times` calls of `method` (or "response_url") fail with HTTP `status`.

        Body is {"ok": false, "error": error}; error defaults to "ratelimited" for 429,
        "internal_error" otherwise.  status=200 gives a Slack-style logical error.
        """
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            q = self._failures.setdefault(method, deque())
            for _ in range(times):
                q.append({"status": status, "retry_after": retry_after, "error": error})

    CHAOS_KINDS = ("rate_limited", "server_error", "dropped", "slow")
    SLOW_SECONDS = 2.0

    def chaos(self, rates: dict[str, float], seed: int = 0) -> None:
        """Misbehave at random, as Slack may: each Web API call (auth.test and apps.connections.open
        aside) is, with these probabilities, answered 429 with Retry-After: 1 (``rate_limited``), 503
        (``server_error``), cut off with no response and no effect (``dropped``), or answered only after
        SLOW_SECONDS (``slow``). A fixed seed repeats the same run. ``chaos({})`` stops it."""
        unknown = set(rates) - set(self.CHAOS_KINDS)
        assert not unknown, f"unknown chaos kinds: {unknown}"
        with self._lock:
            self._chaos = (dict(rates), random.Random(seed)) if rates else None

    def _draw_chaos(self, method: str) -> str | None:
        with self._lock:
            if self._chaos is None or method in ("auth.test", "apps.connections.open", "response_url"):
                return None
            rates, rng = self._chaos
            roll, edge = rng.random(), 0.0
            for kind in self.CHAOS_KINDS:
                edge += rates.get(kind, 0.0)
                if roll < edge:
                    return kind
            return None

    def stub(self, method: str, response: dict | Callable[[dict], dict]) -> None:
        """Override the reply of `method` (also methods the fake doesn't know) with a dict or fn(params)."""
        with self._lock:
            self._stubs[method] = response

    def add_message(self, channel: str, ts: str, text: str, user: str = "U0OFFICER",
                    thread_ts: str | None = None, bot_id: str | None = None, **extra: Any) -> dict:
        """Seed conversation history (seen by conversations.replies)."""
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts is not None:
            msg["thread_ts"] = thread_ts
        if bot_id is not None:
            msg["bot_id"] = bot_id
        msg.update(extra)
        with self._lock:
            self._store(channel, msg)
        return msg

    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict]:
        """Stored messages of a channel (or of one thread), oldest first."""
        with self._lock:
            msgs = self._messages.get(channel, [])
            if thread_ts is not None:
                msgs = [m for m in msgs if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
            return copy.deepcopy(sorted(msgs, key=lambda m: float(m["ts"])))

    def reactions(self, channel: str, ts: str) -> list[str]:
        with self._lock:
            return list(self._reactions.get((channel, ts), []))

    # ------------------------------------------------------------------ internals: store

    def _new_ts(self) -> str:
        with self._lock:
            self._ts_seq += 1
            micros = _TS_BASE_MICROS + self._ts_seq * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _store(self, channel: str, msg: dict) -> None:
        msgs = self._messages.setdefault(channel, [])
        for i, m in enumerate(msgs):
            if m["ts"] == msg["ts"]:
                msgs[i] = msg
                return
        msgs.append(msg)

    def _find(self, channel: str, ts: str) -> dict | None:
        for m in self._messages.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    # ------------------------------------------------------------------ internals: HTTP

    @staticmethod
    def _parse_body(content_type: str, raw: bytes) -> dict:
        ctype = content_type.split(";")[0].strip().lower()
        if not raw:
            return {}
        if ctype == "application/json":
            data = json.loads(raw.decode("utf-8"))
            return data if isinstance(data, dict) else {"_body": data}
        if ctype == "multipart/form-data":
            msg = BytesParser(policy=HTTP_POLICY).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            out: dict[str, Any] = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename():
                    out[name] = {"filename": part.get_filename(), "content": payload}
                else:
                    out[name] = payload.decode("utf-8", "replace")
            return out
        # form-encoded (also the default: urllib sends no content type for some bodies)
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))

    @staticmethod
    def _decode_json_fields(params: dict) -> dict:
        for key in JSON_FIELDS & params.keys():
            value = params[key]
            if isinstance(value, str) and value[:1] in ("[", "{"):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass  # left as a string: validation reports invalid_blocks
            elif isinstance(value, str) and value in ("true", "false") and key.endswith("_original"):
                params[key] = value == "true"
        return params

    def _handle_http(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            params.update(self._parse_body(headers.get("content-type", ""), raw))
        except (ValueError, UnicodeDecodeError):
            self._reply(h, 200, _error("invalid_json"))
            return
        self._decode_json_fields(params)

        if split.path.startswith("/api/"):
            method = split.path[len("/api/"):]
        elif split.path.startswith("/response/"):
            method = "response_url"
            params["key"] = split.path[len("/response/"):]
        else:
            self._reply(h, 404, {"ok": False, "error": "not_found"})
            return

        call: dict[str, Any] = {"method": method, "params": params, "headers": headers, "at": time.monotonic()}
        chaos = self._draw_chaos(method)
        if chaos == "dropped":  # the connection closes with no response; nothing was done
            call.update(failed=True, chaos=chaos)
            with self._cond:
                self.calls.append(call)
                self._cond.notify_all()
            h.close_connection = True
            return
        if chaos == "slow":  # answered as usual, but late
            call["chaos"] = chaos
            time.sleep(self.SLOW_SECONDS)
        if chaos in ("rate_limited", "server_error"):
            failure = {"status": 429, "error": "ratelimited", "retry_after": 1} if chaos == "rate_limited" else \
                {"status": 503, "error": "service_unavailable", "retry_after": 0}
            call["chaos"] = chaos
        else:
            with self._lock:
                q = self._failures.get(method)
                failure = q.popleft() if q else None
        if failure is not None:
            call["failed"] = True
            status, body = failure["status"], _error(failure["error"])
            extra_headers = {"Retry-After": str(failure["retry_after"])} if status == 429 else {}
        else:
            status, extra_headers = 200, {}
            try:
                body = self._dispatch(method, params, headers)
            except Exception as e:  # a bug in the fake or a malformed request: fail loudly but reply
                status, body = 500, _error("fatal_error", detail=f"{type(e).__name__}: {e}")
        call["status"] = status
        call["response"] = body
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        self._reply(h, status, body, extra_headers)

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: dict, extra_headers: dict | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")
        for k, v in (extra_headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.close_connection = True

    def _token(self, params: dict, headers: dict) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and auth[7:].strip():
            return auth[7:].strip()
        token = params.get("token")
        return token if isinstance(token, str) and token else None

    def _dispatch(self, method: str, params: dict, headers: dict) -> dict:
        if method == "response_url":  # Slack checks the blocks of a response too
            return (not params.get("delete_original") and self._validate_message(params)) or {"ok": True}
        with self._lock:
            stub = self._stubs.get(method)
        token = self._token(params, headers)
        if token is None:
            return _error("not_authed")
        if stub is not None:
            return stub(params) if callable(stub) else copy.deepcopy(stub)
        is_app_token = token.startswith("xapp-")
        if method == "apps.connections.open":
            if not is_app_token:
                return _error("not_allowed_token_type")
            return {"ok": True, "url": self.socket_url}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        if is_app_token:
            return _error("not_allowed_token_type")
        return handler(params)

    # ------------------------------------------------------------------ Web API methods

    def _api_auth_test(self, params: dict) -> dict:
        return {"ok": True, "url": "https://force.slack.com/", "team": self.TEAM, "user": "mopi",
                "team_id": self.TEAM_ID, "user_id": self.BOT_USER_ID, "bot_id": self.BOT_ID,
                "is_enterprise_install": False}

    def _validate_message(self, params: dict) -> dict | None:
        text, blocks = params.get("text"), params.get("blocks")
        if not text and not blocks and not params.get("attachments"):
            return _error("no_text")
        if blocks is not None and blocks != "":
            problem = validate_blocks(blocks)
            if problem:
                return _error("invalid_blocks", response_metadata={"messages": [problem]})
        if isinstance(text, str) and len(text) > 40000:
            return _error("msg_too_long")
        return None

    def _api_chat_postMessage(self, params: dict) -> dict:  # noqa: N802
        channel = params.get("channel")
        if not channel:
            return _error("channel_not_found")
        problem = self._validate_message(params)
        if problem:
            return problem
        ts = self._new_ts()
        msg: dict[str, Any] = {"type": "message", "text": params.get("text", ""), "user": self.BOT_USER_ID,
                               "bot_id": self.BOT_ID, "app_id": self.APP_ID, "team": self.TEAM_ID, "ts": ts}
        if params.get("blocks"):
            msg["blocks"] = params["blocks"]
        if params.get("attachments"):
            msg["attachments"] = params["attachments"]
        if params.get("metadata"):
            msg["metadata"] = params["metadata"]
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
        with self._lock:
            self._store(channel, msg)
            return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(msg)}

    def _api_chat_getPermalink(self, params: dict) -> dict:  # noqa: N802
        channel, ts = params.get("channel"), str(params.get("message_ts") or "")
        with self._lock:
            if not channel or self._find(channel, ts) is None:
                return _error("message_not_found")
        return {"ok": True, "channel": channel,
                "permalink": f"https://force.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    def _api_chat_postEphemeral(self, params: dict) -> dict:  # noqa: N802
        if not params.get("channel"):
            return _error("channel_not_found")
        if not params.get("user"):
            return _error("user_not_found")
        problem = self._validate_message(params)
        if problem:
            return problem
        return {"ok": True, "message_ts": self._new_ts()}

    def _api_chat_update(self, params: dict) -> dict:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return _error("channel_not_found")
        if not ts:
            return _error("message_not_found")
        problem = self._validate_message(params)
        if problem:
            return problem
        with self._lock:
            msg = self._find(channel, str(ts))
            if msg is None:
                return _error("message_not_found")
            if "text" in params:
                msg["text"] = params["text"]
            if "blocks" in params:
                msg["blocks"] = params["blocks"]
            msg["edited"] = {"user": self.BOT_USER_ID, "ts": self._new_ts()}
            return {"ok": True, "channel": channel, "ts": ts, "text": msg.get("text", ""),
                    "message": copy.deepcopy(msg)}

    def _reaction_args(self, params: dict) -> tuple[str, str, str] | dict:
        if not params.get("channel"):
            return _error("channel_not_found")
        if not params.get("timestamp"):
            return _error("bad_timestamp")
        if not params.get("name"):
            return _error("invalid_name")
        return params["channel"], str(params["timestamp"]), params["name"]

    def _api_reactions_add(self, params: dict) -> dict:
        args = self._reaction_args(params)
        if isinstance(args, dict):
            return args
        channel, ts, name = args
        with self._lock:
            names = self._reactions.setdefault((channel, ts), [])
            if name in names:
                return _error("already_reacted")
            names.append(name)
        return {"ok": True}

    def _api_reactions_remove(self, params: dict) -> dict:
        args = self._reaction_args(params)
        if isinstance(args, dict):
            return args
        channel, ts, name = args
        with self._lock:
            names = self._reactions.get((channel, ts), [])
            if name not in names:
                return _error("no_reaction")
            names.remove(name)
        return {"ok": True}

    def _api_conversations_replies(self, params: dict) -> dict:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            return _error("channel_not_found")
        if not ts:
            return _error("thread_not_found")
        msgs = self.messages(channel, str(ts))
        if not msgs:
            return _error("thread_not_found")
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 1000)
        page = msgs[start:start + limit]
        has_more = start + limit < len(msgs)
        reply: dict[str, Any] = {"ok": True, "messages": page, "has_more": has_more}
        reply["response_metadata"] = {"next_cursor": str(start + limit) if has_more else ""}
        return reply

    def _api_users_info(self, params: dict) -> dict:
        user = params.get("user")
        if not user:
            return _error("user_not_found")
        is_bot = user == self.BOT_USER_ID
        return {"ok": True, "user": {"id": user, "team_id": self.TEAM_ID, "name": user.lower(),
                                     "real_name": f"User {user}", "is_bot": is_bot, "deleted": False,
                                     "profile": {"real_name": f"User {user}", "display_name": user.lower()}}}

    # ------------------------------------------------------------------ Socket Mode

    def enable_socket_mode(self) -> None:
        """Run the websocket server (now if already started, else at start())."""
        self._socket_mode = True
        if self._http is not None:
            self._start_ws()

    @property
    def socket_url(self) -> str:
        if self._ws_port is None:
            self.enable_socket_mode()
            if self._ws_port is None:
                raise RuntimeError("start FakeSlack before asking for socket_url")
        return f"ws://{self.host}:{self._ws_port}/link?ticket=test"

    def _start_ws(self) -> None:
        with self._lock:
            if self._ws_loop is not None:
                return
            loop = asyncio.new_event_loop()
            self._ws_loop = loop
            self._ws_thread = threading.Thread(target=loop.run_forever, name="fake-slack-ws", daemon=True)
            self._ws_thread.start()
            fut = asyncio.run_coroutine_threadsafe(self._ws_open(), loop)
            self._ws_server, self._ws_port = fut.result(timeout=10)

    async def _ws_open(self) -> tuple[Any, int]:
        kwargs: dict[str, Any] = {"compression": None, "close_timeout": 1,
                                  "ping_interval": self._ws_ping_interval, "ping_timeout": 10}
        server = await _ws_serve(self._ws_handler, self.host, 0, **kwargs)
        port = next(iter(server.sockets)).getsockname()[1]
        return server, port

    async def _ws_handler(self, conn: Any, path: str | None = None) -> None:
        hello = {"type": "hello", "num_connections": 1,
                 "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                 "connection_info": {"app_id": self.APP_ID}}
        try:
            await conn.send(json.dumps(hello))
            with self._cond:
                self._ws_clients.append(conn)
                self.connections_opened += 1
                self._cond.notify_all()
            async for raw in conn:
                if isinstance(raw, bytes):
                    raw = raw.decode("utf-8", "replace")
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = {"_raw": raw}
                if not isinstance(msg, dict):
                    msg = {"_raw": msg}
                with self._cond:
                    self.socket_acks.append(msg)
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001 - client vanished (slack_sdk closes the TCP socket without a close frame)
            pass
        finally:
            with self._cond:
                if conn in self._ws_clients:
                    self._ws_clients.remove(conn)
                self._cond.notify_all()

    async def _ws_close(self) -> None:
        server = self._ws_server
        if server is None:
            return
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=3)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            pass

    def _stop_ws(self) -> None:
        with self._lock:
            loop, thread = self._ws_loop, self._ws_thread
            self._ws_loop = self._ws_thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._ws_close(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001
            pass
        # cancel leftovers (e.g. handler tasks of dead connections) and stop the loop
        def _cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.call_soon(loop.stop)

        loop.call_soon_threadsafe(_cancel_all)
        if thread is not None:
            thread.join(timeout=5)
        if not loop.is_running():
            loop.close()
        with self._lock:
            self._ws_server = None
            self._ws_port = None
            self._ws_clients.clear()

    def wait_for_connection(self, timeout: float = 10.0) -> None:
        """Block until a Socket Mode client is connected (slack_sdk's connect() never raises)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ws_clients:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no Socket Mode client connected within {timeout}s "
                                         f"(apps.connections.open calls: {len(self.calls_to('apps.connections.open'))})")
                self._cond.wait(left)

    @property
    def connected_clients(self) -> int:
        with self._lock:
            return len(self._ws_clients)

    def send_socket_message(self, message: dict, timeout: float = 10.0) -> None:
        """Send any JSON message to the newest connected Socket Mode client."""
        self.wait_for_connection(timeout)
        with self._lock:
            conn, loop = self._ws_clients[-1], self._ws_loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(conn.send(json.dumps(message)), loop).result(timeout=timeout)

    def send_envelope(self, payload: dict, envelope_type: str = "events_api", timeout: float = 10.0) -> str:
        envelope_id = str(uuid.uuid4())
        if envelope_type == "events_api":
            self._remember_event_message(payload)
        self.send_socket_message({
            "envelope_id": envelope_id, "type": envelope_type, "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": 0, "retry_reason": "",
        }, timeout=timeout)
        return envelope_id

    def send_event(self, event: dict, timeout: float = 10.0) -> str:
        """send_envelope(event_callback(event)): the event wrapped the way Slack wraps it."""
        return self.send_envelope(event_callback(event, team_id=self.TEAM_ID, api_app_id=self.APP_ID,
                                                 bot_user_id=self.BOT_USER_ID), timeout=timeout)

    def send_disconnect(self, reason: str = "refresh_requested", timeout: float = 10.0) -> None:
        """Slack's 'please reconnect' message: slack_sdk then opens a new connection."""
        self.send_socket_message({"type": "disconnect", "reason": reason,
                                  "debug_info": {"host": "fake"}}, timeout=timeout)

    def _remember_event_message(self, payload: dict) -> None:
        """A message/app_mention event's message exists in Slack's history, so store it too."""
        event = payload.get("event") if isinstance(payload, dict) else None
        if not isinstance(event, dict) or event.get("type") not in ("message", "app_mention"):
            return
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts or event.get("subtype") in ("message_changed", "message_deleted"):
            return
        with self._lock:
            if self._find(channel, ts) is None:
                msg = {k: v for k, v in event.items() if k not in ("channel", "event_ts", "channel_type")}
                msg["type"] = "message"
                self._store(channel, msg)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.socket_acks:
                    if msg.get("envelope_id") == envelope_id:
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s; "
                                         f"received: {self.socket_acks}")
                self._cond.wait(left)


# ---------------------------------------------------------------------- payload helpers

def event_callback(event: dict, *, team_id: str = FakeSlack.TEAM_ID, api_app_id: str = FakeSlack.APP_ID,
                   bot_user_id: str = FakeSlack.BOT_USER_ID) -> dict:
    """Wrap an inner event ({"type": "app_mention", ...}) the way the Events API delivers it."""
    event = dict(event)
    event.setdefault("event_ts", event.get("ts", f"{time.time():.6f}"))
    return {
        "token": "verification-token", "team_id": team_id, "api_app_id": api_app_id,
        "event": event, "type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()), "is_ext_shared_channel": False,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "event_context": "4-fake",
    }


def slash_command_payload(command: str, text: str, *, response_url: str, user_id: str = "U0OFFICER",
                          channel_id: str = "C0GENERAL", team_id: str = FakeSlack.TEAM_ID,
                          api_app_id: str = FakeSlack.APP_ID) -> dict:
    """A slash-command payload (socket mode: envelope type "slash_commands"; HTTP: form-encode it)."""
    return {
        "token": "verification-token", "team_id": team_id, "team_domain": "force",
        "channel_id": channel_id, "channel_name": "general", "user_id": user_id,
        "user_name": user_id.lower(), "command": command, "text": text, "api_app_id": api_app_id,
        "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": "1.2.fake" + uuid.uuid4().hex[:8],
    }


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict:
    """Slack request-signing headers for an HTTP-mode request with this exact body."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=str(ts), body=body)
    content_type = "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature, "Content-Type": content_type}
