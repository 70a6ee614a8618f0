"""Shared helpers for the slixmpp interop tests.

The suite is started by interop/run, which launches a Switchboard server and
passes everything the tests need through INTEROP_* environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import ssl
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import pytest
import slixmpp

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Server:
    host: str
    domain: str
    c2s_port: int
    http_port: int
    ca_cert: str
    passwords: dict[str, str]

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/rest"

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def password(self, user: str) -> str:
        try:
            return self.passwords[user]
        except KeyError:
            raise AssertionError(
                f"no password for {user!r} in INTEROP_PASSWORD_{user.upper()}"
            ) from None


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(
            f"environment variable {name} is not set: run this suite through interop/run"
        )
    return value


@pytest.fixture(scope="session")
def server() -> Server:
    users = _require("INTEROP_USERS").split()
    ca_cert = _require("INTEROP_CA_CERT")
    if not os.path.isfile(ca_cert):
        raise pytest.UsageError(f"INTEROP_CA_CERT={ca_cert} does not exist")
    return Server(
        host=_require("INTEROP_HOST"),
        domain=_require("INTEROP_DOMAIN"),
        c2s_port=int(_require("INTEROP_C2S_PORT")),
        http_port=int(_require("INTEROP_HTTP_PORT")),
        ca_cert=ca_cert,
        passwords={u: _require(f"INTEROP_PASSWORD_{u.upper()}") for u in users},
    )


async def within(aw: Awaitable[T], seconds: float, what: str) -> T:
    """Await `aw`, failing the test with a readable message after `seconds`."""
    try:
        return await asyncio.wait_for(aw, seconds)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {seconds}s waiting for {what}") from None


def verifying_context(ca_cert: str | None) -> ssl.SSLContext:
    """A client context that verifies the chain and the host name (`localhost`).

    PROTOCOL_TLS_CLIENT sets check_hostname=True and CERT_REQUIRED; the only
    trust anchor is the server's generated self-signed certificate.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    if ca_cert is not None:
        ctx.load_verify_locations(cafile=ca_cert)
    return ctx


class Client(slixmpp.ClientXMPP):
    """slixmpp client that records what the tests wait for."""

    def __init__(self, jid: str, password: str) -> None:
        super().__init__(jid, password)
        # Connect to the given address in plain TCP and upgrade with STARTTLS only:
        # no direct TLS attempt on the STARTTLS port, no plaintext fallback.
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.enable_plaintext = False
        self.inbox: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        self.roster_pushes: asyncio.Queue[slixmpp.Iq] = asyncio.Queue()
        self.own_presence: asyncio.Future[slixmpp.Presence] | None = None
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", lambda _: self._settle("session_start"))
        self.add_event_handler("failed_auth", lambda _: self._settle("failed_auth"))
        self.add_event_handler("ssl_invalid_chain", lambda e: self._settle(f"ssl_invalid_chain: {e}"))
        self.add_event_handler("connection_failed", lambda e: self._settle(f"connection_failed: {e}"))
        self.add_event_handler("disconnected", lambda e: self._settle(f"disconnected: {e}"))
        self.add_event_handler("message", self.inbox.put_nowait)
        self.add_event_handler("message_error", self.inbox.put_nowait)
        self.add_event_handler("roster_update", self._on_roster_update)
        self.add_event_handler("presence_available", self._on_presence)

    def _settle(self, outcome: str) -> None:
        if not self.outcome.done():
            self.outcome.set_result(outcome)

    def _on_roster_update(self, iq: slixmpp.Iq) -> None:
        if iq["type"] == "set":
            self.roster_pushes.put_nowait(iq)

    def _on_presence(self, presence: slixmpp.Presence) -> None:
        if (
            self.own_presence is not None
            and not self.own_presence.done()
            and presence["from"] == self.boundjid
        ):
            self.own_presence.set_result(presence)

    async def become_available(self, priority: int | None = None, timeout: float = 10) -> None:
        """Send initial presence and wait until the server reflects it back to us.

        RFC 6121 §4.2.2: the server broadcasts initial presence to all of the
        user's available resources, including the one that sent it. Once it is
        back, the server has processed it and will route bare-JID messages here.
        """
        self.own_presence = asyncio.get_running_loop().create_future()
        self.send_presence(ppriority=priority)
        await within(
            self.own_presence, timeout, f"{self.boundjid} to receive its own initial presence back"
        )

    async def next_message(
        self, predicate: Callable[[slixmpp.Message], bool], timeout: float, what: str
    ) -> slixmpp.Message:
        """Wait for the next message satisfying `predicate`; others are kept in `seen`."""
        seen: list[str] = []

        async def loop() -> slixmpp.Message:
            while True:
                msg = await self.inbox.get()
                if predicate(msg):
                    return msg
                seen.append(str(msg))

        try:
            return await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what} at {self.boundjid}; "
                f"other messages received: {seen or 'none'}"
            ) from None


@contextlib.asynccontextmanager
async def connected(
    server: Server,
    user: str,
    resource: str,
    *,
    ca_cert: str | None = "default",
    timeout: float = 15,
    plugins: tuple[str, ...] = (),
) -> AsyncIterator[Client]:
    """A logged-in slixmpp client (STARTTLS with a verified certificate, SASL, bind), with
    the slixmpp `plugins` (e.g. "xep_0313") registered before it connects."""
    client = Client(f"{server.jid(user)}/{resource}", server.password(user))
    for plugin in plugins:
        client.register_plugin(plugin)
    client.ssl_context = verifying_context(server.ca_cert if ca_cert == "default" else ca_cert)
    client.connect(server.host, server.c2s_port)
    try:
        outcome = await within(client.outcome, timeout, f"{user} to log in over c2s")
        assert outcome == "session_start", f"{user} did not log in: {outcome}"
        yield client
    finally:
        client.cancel_connection_attempt()
        with contextlib.suppress(AssertionError):
            await within(client.disconnect(wait=2), 5, f"{user} to close its stream")
        client.abort()
