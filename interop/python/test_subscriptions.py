"""RFC 6121 subscriptions and presence with slixmpp's own roster handling (auto_authorize,
auto_subscribe), over TCP c2s with STARTTLS."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from conftest import Client, Server, connected, within

pytestmark = pytest.mark.timeout(40)


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Polls `check` until it holds, failing the test after `seconds`."""

    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await within(loop(), seconds, what)


def subscription(client: Client, contact: str) -> str:
    return client.client_roster[contact]["subscription"]


def sees(client: Client, contact: str, resource: str) -> bool:
    return resource in client.client_roster[contact].resources


def test_subscription_approved_by_slixmpp_and_mutual_presence(server: Server) -> None:
    async def scenario() -> None:
        bob_jid, carol_jid = server.jid("bob"), server.jid("carol")
        async with connected(server, "bob", "py-sub") as bob, connected(
            server, "carol", "py-sub"
        ) as carol:
            # carol's slixmpp approves any request and asks back; bob's approves but never
            # asks first.
            carol.auto_authorize = True
            carol.auto_subscribe = True
            bob.auto_authorize = True
            bob.auto_subscribe = False
            for client in (bob, carol):
                result = await within(client.get_roster(timeout=10), 12, "roster get result")
                assert result["type"] == "result", f"roster get failed: {result}"
                await client.become_available()

            bob.client_roster.subscribe(carol_jid)
            await until(
                lambda: subscription(bob, carol_jid) == "both"
                and subscription(carol, bob_jid) == "both",
                15,
                "both rosters to show a mutual subscription (roster pushes)",
            )
            await until(
                lambda: sees(bob, carol_jid, "py-sub") and sees(carol, bob_jid, "py-sub"),
                10,
                "each to see the other's presence",
            )

            # A status change reaches the subscriber; the server kept the state.
            carol.send_presence(pstatus="interop status")
            await until(
                lambda: bob.client_roster[carol_jid].resources.get("py-sub", {}).get("status")
                == "interop status",
                10,
                "carol's new status at bob",
            )
            fresh = await bob.get_full_roster()
            item = fresh["roster"]["items"][carol_jid]
            assert item["subscription"] == "both", f"server roster disagrees: {fresh}"
            assert not item["ask"], f"a request is still pending: {fresh}"

    asyncio.run(scenario())


def test_request_to_an_offline_contact_is_shown_at_its_login(server: Server) -> None:
    async def scenario() -> None:
        alice_jid, carol_jid = server.jid("alice"), server.jid("carol")
        async with connected(server, "alice", "py-ask") as alice:
            await within(alice.get_roster(timeout=10), 12, "roster get result")
            await alice.become_available()
            alice.client_roster.subscribe(carol_jid)
            await until(
                lambda: alice.client_roster[carol_jid]["pending_out"]
                or subscription(alice, carol_jid) in ("to", "both"),
                10,
                "alice's pending request (roster push with ask)",
            )
            # carol was not online: the request waits for her.
            async with connected(server, "carol", "py-later") as carol:
                carol.auto_authorize = True
                carol.auto_subscribe = False
                await within(carol.get_roster(timeout=10), 12, "roster get result")
                await carol.become_available()
                await until(
                    lambda: subscription(alice, carol_jid) in ("to", "both"),
                    15,
                    "carol's slixmpp to approve the stored request",
                )
                await until(
                    lambda: sees(alice, carol_jid, "py-later"),
                    10,
                    "carol's presence at alice after the approval",
                )
                assert subscription(carol, alice_jid) in ("from", "both")

    asyncio.run(scenario())
