"""Real servers on 127.0.0.1 that Airflow's notifiers deliver to in the tests.

- :func:`smtp_server`: aiosmtpd's SMTP server; ``SmtpNotifier`` reaches it through an Airflow
  connection (no TLS, no login) and every message lands in ``mailbox``.
- :func:`webhook_server`: an HTTP server answering like Slack's incoming webhooks ("ok");
  ``SlackWebhookNotifier`` posts to it through a connection whose password is its URL. With
  ``hang=True`` it accepts and never answers, as a channel that hangs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dev_tools.airflow_local import free_port


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)

    def connection(self) -> str:
        """An ``AIRFLOW_CONN_*`` value for this server."""
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10,
                                     "from_email": "ddtrack@example.com"}})

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            box.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Webhook:
    port: int
    posts: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/XXXX"

    def connection(self) -> str:
        return json.dumps({"conn_type": "slackwebhook", "password": self.url})


@contextmanager
def webhook_server(hang: bool = False) -> Iterator[Webhook]:
    hook = Webhook(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if hang:
                hook.release.wait(120)
                return
            hook.posts.append(json.loads(body or b"{}"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", hook.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()
