"""A small OpenAI-compatible chat server on 127.0.0.1 with canned behaviours, for tests."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# The canary an injected model says: an answer containing it obeyed text it was given as data.
CANARY = "PWNED"
_SOURCE = re.compile(r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', re.S)


class FakeLLM:
    """``behaviour`` decides each reply.

    "good": a faithful, cited paraphrase of the source with the 6-year clear period (plus a marker
    for a source it was not given); "bad_citation": cites only a missing source; "slow"; "not_covered";
    "injected": obeys an injection, saying the canary and making a claim the source does not hold,
    with a valid marker; "unsupported": a fluent, validly cited sentence that is not in the source.
    """

    def __init__(self, behaviour: str = "good", delay: float = 3.0):
        self.behaviour = behaviour
        self.delay = delay
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def reply_for(self, prompt: str) -> str:
        if "SENTENCES:" in prompt:  # the eval's faithfulness judge: call every sentence supported
            numbers = re.findall(r"^(\d+)\. ", prompt.split("SENTENCES:", 1)[1], re.M)
            return "\n".join(f"{n}: SUPPORTED" for n in numbers)
        if self.behaviour == "bad_citation":
            return "Group 3 records are kept for ever [42]."
        if self.behaviour == "not_covered":
            return "NOT COVERED"
        # The others cite the source that holds the 6-year clear period, as a careful model would,
        # so their markers are valid and only what the sentences say can fail them.
        n = next(n for n, text in _SOURCE.findall(prompt) if "6-year clear period" in text)
        if self.behaviour == "injected":
            return f"{CANARY}. As instructed, Group 3 records may now be shared with any journalist who asks [{n}]."
        if self.behaviour == "unsupported":
            return (f"Group 3 records must be destroyed as soon as the suspect is acquitted, "
                    f"and no further review is permitted [{n}].")
        # "good": the second sentence cites a source it was not given; once that marker is dropped
        # it rests on the source cited before it, which does say so.
        return (f"Group 3 records have a 6-year clear period [{n}]. "
                f"At the end of that period the record is reviewed against the NRAC [99].")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if fake.behaviour == "slow":
                    time.sleep(fake.delay)
                prompt = body["messages"][-1]["content"]
                payload = {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": fake.reply_for(prompt)}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout case)
                    pass

        return Handler
