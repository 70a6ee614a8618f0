"""Webhooks against independent code: the seed README's Flask echo bots (XML and JSON, run
unchanged) answer a slixmpp client through their HTTP callbacks, and a receiver written with the
Python standard library checks Switchboard's request signatures the way docs/webhooks.md shows."""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import hashlib
import hmac
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Iterator

import pytest
from slixmpp.exceptions import IqError

from conftest import Server, connected, within

pytestmark = pytest.mark.timeout(40)

BOTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flask_bots")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(f"{name} is not set: run this suite through interop/run")
    return value


def wait_for_port(port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not listen on port {port} within {seconds}s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def flask_bots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Both seed bots, served by Flask's own server on the ports interop/run chose."""
    logs = tmp_path_factory.mktemp("flask")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for module, port in (
            ("xml_echo_bot", int(env("INTEROP_FLASK_XML_PORT"))),
            ("json_echo_bot", int(env("INTEROP_FLASK_JSON_PORT"))),
        ):
            log = open(logs / f"{module}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", module, "run",
                     "--host", "127.0.0.1", "--port", str(port)],
                    cwd=BOTS_DIR,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            wait_for_port(port, 15, module)
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_xml_echo_bot_answers_messages_and_refuses_iqs(server: Server, flask_bots: None) -> None:
    bot = f"echo@{env('INTEROP_XML_BOT_DOMAIN')}"

    async def scenario() -> None:
        async with connected(server, "alice", "py-xmlbot") as alice:
            alice.send_message(mto=bot, mbody=f"hello {uuid.uuid4().hex}", mtype="chat")
            reply = await alice.next_message(
                lambda m: m["from"].bare == bot, 15, "the XML echo bot's reply"
            )
            assert reply["body"] == "Yes this is bot", str(reply)
            assert reply["type"] == "chat", str(reply)
            assert reply["to"] == alice.boundjid, str(reply)

            # The bot answers anything but a message with 501: a stanza error from §4.5's table.
            iq = alice.make_iq_get(queryxmlns="jabber:iq:version", ito=bot)
            with pytest.raises(IqError) as refused:
                await within(iq.send(timeout=15), 20, "the bot's answer to an iq")
            error = refused.value.iq["error"]
            assert error["type"] == "cancel", str(refused.value.iq)
            assert error["condition"] == "feature-not-implemented", str(refused.value.iq)
            assert error["text"] == "Not Implemented", str(refused.value.iq)

    asyncio.run(scenario())


def test_json_echo_bot_answers_messages(server: Server, flask_bots: None) -> None:
    bot = f"echo@{env('INTEROP_JSON_BOT_DOMAIN')}"

    async def scenario() -> None:
        async with connected(server, "bob", "py-jsonbot") as bob:
            bob.send_message(mto=bot, mbody="are you there?", mtype="chat")
            reply = await bob.next_message(
                lambda m: m["from"].bare == bot, 15, "the JSON echo bot's reply"
            )
            assert reply["body"] == "hello", str(reply)
            assert reply["type"] == "chat", str(reply)

    asyncio.run(scenario())


# The verification recipe of docs/webhooks.md, as a receiver would write it.
def verify(secret: str, timestamp: str, signature: str, body: bytes, max_age: int = 300) -> bool:
    if abs(time.time() - int(timestamp)) > max_age:
        return False  # too old: a replay
    message = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Records every POST and accepts it with 204."""

    requests: list[tuple[email.message.Message, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # Header names are case-insensitive in the message object, as in any web framework.
        Recorder.requests.append((self.headers, body))
        self.send_response(204)
        self.end_headers()

    def do_OPTIONS(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_signatures_verify_with_the_secret_the_cli_shows(server: Server) -> None:
    domain = env("INTEROP_VERIFY_DOMAIN")
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", int(env("INTEROP_VERIFY_PORT"))), Recorder)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    marker = uuid.uuid4().hex
    try:

        async def scenario() -> None:
            async with connected(server, "carol", "py-verify") as carol:
                carol.send_message(mto=f"signed@{domain}", mbody=marker, mtype="chat")

                async def arrived() -> None:
                    while not any(marker.encode() in body for _, body in Recorder.requests):
                        await asyncio.sleep(0.05)

                await within(arrived(), 15, "the signed callback request")

        asyncio.run(scenario())
    finally:
        receiver.shutdown()
        receiver.server_close()

    data_dir = env("INTEROP_DATA_DIR")
    secret = subprocess.run(
        [env("INTEROP_BIN"), "webhook", "secret", domain],
        cwd=os.path.dirname(data_dir),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode().strip()
    assert secret, "the CLI printed no secret"

    headers, body = next((h, b) for h, b in Recorder.requests if marker.encode() in b)
    assert headers["Content-Type"] == "application/xmpp+xml", headers
    assert len(headers["X-Switchboard-Delivery"]) == 32, headers
    assert body.startswith(b"<message "), body
    timestamp = headers["X-Switchboard-Timestamp"]
    signature = headers["X-Switchboard-Signature"]
    assert verify(secret, timestamp, signature, body), (dict(headers), body)
    assert not verify(secret, timestamp, signature, body + b" "), "a changed body must not verify"
    assert not verify("not the secret", timestamp, signature, body)
    stale = str(int(timestamp) - 3600)
    assert not verify(secret, stale, signature, body), "an old timestamp must not verify"
