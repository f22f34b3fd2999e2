"""Running the app: Socket Mode, or HTTP mode at /slack/events on a threaded server."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App, BoltRequest

from bot.core.index import build_assistant
from bot.errors import ConfigError
from bot.settings import Settings
from bot.slack.app import SlackDeps, create_app, make_client
from bot.slack.audit import AuditLog
from bot.slack.policy import RateLimiter, load_policy

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Slack's largest payloads (a 40,000-character message, a modal's state) are well under this.
MAX_BODY_BYTES = 1 << 20


def build_deps(settings: Settings, assistant=None) -> SlackDeps:
    policy = load_policy(settings.slack_channels)
    return SlackDeps(assistant or build_assistant(settings), AuditLog(settings.audit_db), policy,
                     RateLimiter(policy.rate_limit_per_minute))


def serve_http(app: App, host: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP server handing Slack's POSTs at /slack/events to Bolt (which checks signatures).

    Each request gets its own thread, so a slow answer never delays another
    request's acknowledgement; Bolt acks events and runs listeners afterwards.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # request lines may carry user data: keep them out of the log
            pass

        def do_POST(self):
            if self.path.split("?")[0] != EVENTS_PATH:
                self._reply(404, b"not found", {})
                return
            try:
                length = int(self.headers.get("Content-Length", 0))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self._reply(400, b"bad Content-Length", {"Connection": "close"})
                self.close_connection = True
                return
            try:
                # Bolt parses the body before it checks the signature, so a malformed body from anyone
                # would otherwise end the handler thread without a response.
                request = BoltRequest(body=self.rfile.read(length).decode("utf-8"), query=self.path.partition("?")[2],
                                      headers={k.lower(): [v] for k, v in self.headers.items()})
            except (ValueError, AttributeError, TypeError, KeyError):
                # Not UTF-8, not JSON (both ValueErrors), or JSON that is not a Slack payload: Bolt reads
                # fields such as "authorizations" while building its request and trips over other shapes.
                log.warning("rejected a request whose %d-byte body is not a Slack payload", length)
                self._reply(400, b"malformed body", {})
                return
            response = app.dispatch(request)
            headers = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
            self._reply(response.status, (response.body or "").encode("utf-8"), headers)

        def _reply(self, status: int, data: bytes, headers: dict):
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        # socketserver's default listen backlog is 5: a burst of Slack deliveries (20 at once in the
        # soak, bench_soak) then meets "connection reset by peer" before a thread can accept it.
        request_queue_size = 128
        daemon_threads = True

    return Server((host, port), Handler)


def run_slack(settings: Settings, http: bool = False, port: int | None = None, host: str = "0.0.0.0") -> None:
    """Start the bot: Socket Mode when SLACK_APP_TOKEN is set (unless --http), else HTTP mode."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set: see 'Installing the Slack bot' in the README")
    if http and not settings.slack_signing_secret:
        raise ConfigError("HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests")
    app = create_app(settings, build_deps(settings))
    if settings.slack_app_token and not http:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        log.info("starting in Socket Mode")
        SocketModeHandler(app, settings.slack_app_token, web_client=make_client(settings)).start()
        return
    if not settings.slack_signing_secret:
        raise ConfigError("set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode")
    server = serve_http(app, host, port or settings.slack_port)
    log.info("serving Slack requests on port %s at %s", server.server_address[1], EVENTS_PATH)
    try:
        server.serve_forever()
    finally:
        server.server_close()
