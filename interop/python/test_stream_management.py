"""XEP-0198 stream management with slixmpp's own xep_0198 plugin: enable, acks, and resumption
after the socket is dropped without closing the stream."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conftest import Client, Server, connected, verifying_context, within

pytestmark = pytest.mark.timeout(40)


def event_future(client: Client, event: str) -> asyncio.Future:
    """A future that the next `event` of `client` resolves."""
    future = asyncio.get_running_loop().create_future()

    def settle(payload: object) -> None:
        if not future.done():
            future.set_result(payload)

    client.add_event_handler(event, settle, disposable=True)
    return future


def test_enable_ack_and_resume_after_a_dropped_socket(server: Server) -> None:
    async def scenario() -> None:
        resource = f"py-sm-{uuid.uuid4().hex[:6]}"
        alice = Client(f"{server.jid('alice')}/{resource}", server.password("alice"))
        alice.register_plugin("xep_0198")
        alice.register_plugin("xep_0199")
        sm = alice.plugin["xep_0198"]
        alice.ssl_context = verifying_context(server.ca_cert)
        enabled = event_future(alice, "sm_enabled")
        alice.connect(server.host, server.c2s_port)
        try:
            outcome = await within(alice.outcome, 15, "alice to log in")
            assert outcome == "session_start", f"alice did not log in: {outcome}"
            await within(enabled, 10, "<enabled/> from the server")
            assert sm.sm_id, "the server granted no resumption id"

            async with connected(server, "bob", f"py-sm-peer-{uuid.uuid4().hex[:6]}") as bob:
                bob.register_plugin("xep_0199")
                before = f"before {uuid.uuid4().hex}"
                acked = event_future(alice, "stanza_acked")
                alice.send_message(mto=bob.boundjid, mbody=before, mtype="chat")
                got = await bob.next_message(lambda m: m["body"] == before, 10, "alice's message")
                assert got["from"] == alice.boundjid, f"wrong sender: {got}"
                # Asked only now: slixmpp writes <r/> at once but queues stanzas.
                sm.request_ack()
                acked_stanza = await within(acked, 10, "the server to acknowledge alice's message")
                assert acked_stanza["body"] == before, f"acknowledged: {acked_stanza}"

                # The socket goes away without </stream:stream>, as a network failure would.
                alice.transport.abort()
                during = f"during {uuid.uuid4().hex}"
                bob.send_message(mto=f"{server.jid('alice')}/{resource}", mbody=during, mtype="chat")
                # Let the message reach the server before alice comes back.
                await within(bob.plugin["xep_0199"].ping(server.domain, timeout=5), 8, "bob's ping")

                resumed = event_future(alice, "session_resumed")
                alice.connect(server.host, server.c2s_port)
                await within(resumed, 15, "<resumed/> from the server")
                got = await alice.next_message(
                    lambda m: m["body"] == during, 10, "the message sent while alice was away"
                )
                assert got["from"] == bob.boundjid, f"wrong sender: {got}"

                # Anything re-sent in error would have arrived before this ping's answer.
                await within(alice.plugin["xep_0199"].ping(server.domain, timeout=5), 8, "alice's ping")
                while not alice.inbox.empty():
                    extra = alice.inbox.get_nowait()
                    assert extra["body"] not in (before, during), f"delivered twice: {extra}"
        finally:
            alice.cancel_connection_attempt()
            try:
                await within(alice.disconnect(wait=2), 5, "alice to close its stream")
            except AssertionError:
                pass
            alice.abort()

    asyncio.run(scenario())
