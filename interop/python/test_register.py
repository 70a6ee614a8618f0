"""In-band registration (XEP-0077) with slixmpp's xep_0077: a new account registered on the
stream before login logs in, changes its password and removes itself. interop/run turns
registration on (auth.allow_registration); one registration per address per 300 s, so this
suite registers one account."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import slixmpp

from conftest import Client, Server, verifying_context, within

pytestmark = pytest.mark.timeout(40)


class Registering(Client):
    """A client that fills in the registration form it is offered before logging in."""

    def __init__(self, jid: str, password: str) -> None:
        super().__init__(jid, password)
        for plugin in ("xep_0030", "xep_0004", "xep_0066", "xep_0077"):
            self.register_plugin(plugin)
        self.form_fields: list[str] = []
        self.add_event_handler("register", self._register)

    async def _register(self, form: slixmpp.Iq) -> None:
        self.form_fields = sorted(form["register"]["fields"])
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        await iq.send(timeout=10)


async def log_in(client: Client, server: Server) -> str:
    client.ssl_context = verifying_context(server.ca_cert)
    client.connect(server.host, server.c2s_port)
    return await within(client.outcome, 15, f"{client.boundjid.bare} to log in")


async def close(client: Client) -> None:
    client.cancel_connection_attempt()
    with contextlib.suppress(AssertionError):
        await within(client.disconnect(wait=2), 5, "the stream to close")
    client.abort()


def test_register_change_password_and_remove(server: Server) -> None:
    user = f"newbie-{uuid.uuid4().hex[:8]}"
    jid = f"{server.jid(user)}/ibr"

    async def scenario() -> None:
        newbie = Registering(jid, "first password")
        try:
            assert await log_in(newbie, server) == "session_start"
            assert newbie.form_fields == ["password", "username"]
            reply = await within(
                newbie.plugin["xep_0077"].change_password("second password", timeout=10),
                12,
                "the password change",
            )
            assert reply["type"] == "result"
        finally:
            await close(newbie)

        # The old password no longer works; the new one does, and removes the account.
        stale = Client(jid, "first password")
        try:
            assert await log_in(stale, server) == "failed_auth"
        finally:
            await close(stale)
        again = Client(jid, "second password")
        again.register_plugin("xep_0077")
        try:
            assert await log_in(again, server) == "session_start"
            reply = await within(
                again.plugin["xep_0077"].cancel_registration(timeout=10), 12, "the removal"
            )
            assert reply["type"] == "result"
        finally:
            await close(again)

        gone = Client(jid, "second password")
        try:
            assert await log_in(gone, server) == "failed_auth"
        finally:
            await close(gone)

    asyncio.run(scenario())
