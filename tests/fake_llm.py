"""A small OpenAI-compatible chat server on 127.0.0.1 with canned behaviours, for tests."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    """``behaviour`` decides each reply: "good", "bad_citation", "slow" or "not_covered"."""

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
        # "good": cite the source that holds the 6-year clear period, as a careful model would.
        sources = re.split(r"\n\n(?=\[\d+\] )", prompt.split("Sources:\n\n", 1)[1])
        n = next(i for i, s in enumerate(sources, start=1) if "6-year clear period" in s)
        return f"Group 3 records have a 6-year clear period [{n}], and a source I was not given says more [99]."

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
