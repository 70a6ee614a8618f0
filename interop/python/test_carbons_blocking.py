"""Carbons (XEP-0280), blocking (XEP-0191) and receipts (XEP-0184) with slixmpp's own plugins.

bob is left alone: test_slixmpp.py stores messages for him while he has never logged in.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import slixmpp

from conftest import Client, Server, connected, within

pytestmark = pytest.mark.timeout(40)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex}"


def events(client: Client, name: str) -> asyncio.Queue:
    """A queue of the stanzas slixmpp reports as event `name`."""
    queue: asyncio.Queue = asyncio.Queue()
    client.add_event_handler(name, queue.put_nowait)
    return queue


async def next_event(queue: asyncio.Queue, predicate, what: str):
    async def loop():
        while True:
            stanza = await queue.get()
            if predicate(stanza):
                return stanza

    return await within(loop(), 10, what)


def test_server_advertises_blocking_and_carbons(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-disco", plugins=("xep_0030",)) as alice:
            info = await within(
                alice.plugin["xep_0030"].get_info(jid=server.domain, timeout=10), 12, "disco#info"
            )
            features = set(info["disco_info"]["features"])
            for feature in ("urn:xmpp:blocking", "urn:xmpp:carbons:2"):
                assert feature in features, f"{feature} not advertised: {sorted(features)}"

    asyncio.run(scenario())


def test_carbons_between_two_resources(server: Server) -> None:
    async def scenario() -> None:
        plugins = ("xep_0280",)
        async with connected(server, "alice", "py-carbons-a", plugins=plugins) as first, connected(
            server, "alice", "py-carbons-b", plugins=plugins
        ) as second, connected(server, "dave", "py-carbons") as contact:
            for client in (first, second, contact):
                await client.become_available()
            for client in (first, second):
                await within(client.plugin["xep_0280"].enable(timeout=10), 12, "carbons enabled")
            received = events(second, "carbon_received")
            sent = events(second, "carbon_sent")

            inbound = unique("a contact to alice's first resource")
            contact.send_message(mto=first.boundjid.full, mbody=inbound, mtype="chat")
            await first.next_message(lambda m: m["body"] == inbound, 10, "the original message")
            copy = await next_event(
                received,
                lambda m: m["carbon_received"]["body"] == inbound,
                "the received carbon at the second resource",
            )
            assert copy["from"] == second.boundjid.bare, f"carbon not from the bare JID: {copy}"
            assert copy["carbon_received"]["from"] == contact.boundjid, f"wrong sender: {copy}"

            outbound = unique("alice's first resource to a contact")
            first.send_message(mto=contact.boundjid.bare, mbody=outbound, mtype="chat")
            await contact.next_message(
                lambda m: m["body"] == outbound, 10, "alice's message at the contact"
            )
            copy = await next_event(
                sent,
                lambda m: m["carbon_sent"]["body"] == outbound,
                "the sent carbon at the second resource",
            )
            recipient = copy["carbon_sent"]["to"].bare
            assert recipient == contact.boundjid.bare, f"wrong recipient: {copy}"

    asyncio.run(scenario())


def test_blocked_contact_messages_stop_until_unblocked(server: Server) -> None:
    async def scenario() -> None:
        async with connected(
            server, "carol", "py-block", plugins=("xep_0191",)
        ) as carol, connected(server, "dave", "py-blocked") as dave:
            await carol.become_available()
            await dave.become_available()
            blocking = carol.plugin["xep_0191"]
            pushes = events(carol, "blocked")
            assert await within(blocking.get_blocked_jids(timeout=10), 12, "the blocklist") == set()
            try:
                await within(blocking.block(dave.boundjid.bare, timeout=10), 12, "block result")
                push = await next_event(pushes, lambda iq: True, "the block push")
                pushed = {item["jid"] for item in push["block"]}
                assert pushed == {slixmpp.JID(dave.boundjid.bare)}, f"wrong push: {push}"
                blocked = await within(blocking.get_blocked_jids(timeout=10), 12, "the blocklist")
                assert blocked == {slixmpp.JID(dave.boundjid.bare)}, f"blocklist is {blocked}"

                stopped = unique("dave while blocked")
                dave.send_message(mto=carol.boundjid.bare, mbody=stopped, mtype="chat")
                error = await dave.next_message(
                    lambda m: m["type"] == "error", 10, "the error for dave's message"
                )
                assert error["error"]["condition"] == "service-unavailable", f"{error}"

                refused = unique("carol to the contact she blocks")
                carol.send_message(mto=dave.boundjid.bare, mbody=refused, mtype="chat")
                error = await carol.next_message(
                    lambda m: m["type"] == "error", 10, "the error for carol's message"
                )
                assert error["error"]["condition"] == "not-acceptable", f"{error}"
                assert error.xml.find(
                    "{jabber:client}error/{urn:xmpp:blocking:errors}blocked"
                ) is not None, f"no <blocked/> in {error}"
            finally:
                await within(blocking.unblock(dave.boundjid.bare, timeout=10), 12, "unblock")

            after = unique("dave after unblocking")
            dave.send_message(mto=carol.boundjid.bare, mbody=after, mtype="chat")
            got = await carol.next_message(
                lambda m: m["body"] in (stopped, after), 10, "dave's message after unblocking"
            )
            assert got["body"] == after, "the message sent while blocked was delivered"

    asyncio.run(scenario())


def test_receipt_request_comes_back_with_the_contact_receipt(server: Server) -> None:
    async def scenario() -> None:
        receipts_plugin = ("xep_0184",)
        async with connected(
            server, "alice", "py-receipts", plugins=receipts_plugin
        ) as alice, connected(server, "carol", "py-receipts", plugins=receipts_plugin) as contact:
            await alice.become_available()
            await contact.become_available()
            receipts = events(alice, "receipt_received")
            message = alice.make_message(
                mto=contact.boundjid.bare, mbody=unique("please confirm"), mtype="chat"
            )
            message["request_receipt"] = True
            message_id = message["id"]
            message.send()
            got = await contact.next_message(
                lambda m: m["id"] == message_id, 10, "the message with a receipt request"
            )
            assert got["request_receipt"], f"the request did not pass through: {got}"
            receipt = await next_event(
                receipts, lambda m: m["receipt"] == message_id, "the contact's automatic receipt"
            )
            assert receipt["from"] == contact.boundjid, f"receipt from {receipt['from']}"

    asyncio.run(scenario())
