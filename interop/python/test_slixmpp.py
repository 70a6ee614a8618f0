"""Switchboard interop with slixmpp over TCP c2s (STARTTLS with a verified certificate)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import pytest

from conftest import Client, Server, connected, verifying_context, within

pytestmark = pytest.mark.timeout(40)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex}"


def run(coro) -> None:
    asyncio.run(coro)


async def curl_post(server: Server, user: str, content_type: str, body: str) -> tuple[int, str]:
    """POST `body` to /rest with the real curl binary; returns (status, response body)."""
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "--silent",
        "--show-error",
        "--max-time", "10",
        "--user", f"{user}:{server.password(user)}",
        "--header", f"Content-Type: {content_type}",
        "--data-binary", "@-",
        "--write-out", "\n%{http_code}",
        server.rest_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await within(proc.communicate(body.encode("utf-8")), 15, "curl to finish")
    assert proc.returncode == 0, f"curl exited {proc.returncode}: {err.decode(errors='replace')}"
    text = out.decode("utf-8", errors="replace")
    response, _, status = text.rpartition("\n")
    return int(status), response


def test_login_with_starttls_and_verified_certificate(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-login") as alice:
            assert "starttls" in alice.features, f"STARTTLS was not negotiated: {alice.features}"
            ssl_object = alice.transport.get_extra_info("ssl_object")
            assert ssl_object is not None, "stream is not running over TLS"
            peer = ssl_object.getpeercert()
            assert peer, "no verified peer certificate"
            sans = {value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"}
            assert "localhost" in sans, f"certificate SAN has no 'localhost': {sans}"
            assert alice.boundjid.full == f"{server.jid('alice')}/py-login", (
                f"unexpected bound JID {alice.boundjid.full}"
            )

    run(scenario())


def test_starttls_fails_without_trusting_the_certificate(server: Server) -> None:
    """Proves verification is really on: with no trust anchor the handshake must fail."""

    async def scenario() -> None:
        client = Client(f"{server.jid('alice')}/py-untrusted", server.password("alice"))
        client.ssl_context = verifying_context(None)
        client.connect(server.host, server.c2s_port)
        try:
            outcome = await within(client.outcome, 15, "the untrusted STARTTLS attempt to end")
            # slixmpp reports the failed handshake as `ssl_invalid_chain` or, when the
            # transport is lost first, as `disconnected` with the SSL error as reason.
            assert outcome != "session_start", "logged in although the certificate is untrusted"
            assert "CERTIFICATE_VERIFY_FAILED" in outcome, (
                f"expected certificate verification to fail, got {outcome}"
            )
        finally:
            client.cancel_connection_attempt()
            with contextlib.suppress(AssertionError):
                await within(client.disconnect(wait=1), 5, "untrusted client to disconnect")
            client.abort()

    run(scenario())


def test_roster_get_set_get(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-roster") as alice:
            first = await within(alice.get_roster(timeout=10), 12, "roster get result")
            assert first["type"] == "result", f"roster get failed: {first}"
            assert first.xml.find("{jabber:iq:roster}query") is not None, (
                f"roster result has no jabber:iq:roster query: {first}"
            )
            contact = server.jid("dave")
            assert contact not in first["roster"]["items"], (
                f"{contact} unexpectedly already in roster: {first}"
            )

            result = await within(
                alice.update_roster(contact, name="Dave D.", groups=["Interop", "Friends"], timeout=10),
                12,
                "roster set result",
            )
            assert result["type"] == "result", f"roster set failed: {result}"

            push = await within(alice.roster_pushes.get(), 10, "the roster push (RFC 6121 §2.1.6)")
            assert contact in push["roster"]["items"], f"roster push is not about {contact}: {push}"

            # The server offers roster versioning and slixmpp uses it: after the push its
            # cached roster is current, so the server answers with an empty result.
            cached = await within(alice.get_roster(timeout=10), 12, "second roster get result")
            assert cached["type"] == "result", f"roster get failed: {cached}"
            assert not cached["roster"]["items"], f"an up-to-date roster was sent again: {cached}"
            second = await alice.get_full_roster()
            items = second["roster"]["items"]
            assert contact in items, f"{contact} missing from roster after set: {second}"
            item = items[contact]
            assert item["name"] == "Dave D.", f"wrong name in {second}"
            assert sorted(item["groups"]) == ["Friends", "Interop"], f"wrong groups in {second}"
            assert item["subscription"] == "none", f"wrong subscription in {second}"

    run(scenario())


def test_offline_messages_are_delivered_on_initial_presence(server: Server) -> None:
    """Runs before any test logs bob in, so bob has no session when the messages are sent."""

    async def scenario() -> None:
        first = unique("offline 1: stored while bob is away")
        second = unique("offline 2: kept in order")
        for body in (first, second):
            payload = json.dumps(
                {"kind": "message", "type": "chat", "to": server.jid("bob"), "body": body}
            )
            status, response = await curl_post(server, "alice", "application/json", payload)
            assert status == 202, f"POST /rest answered {status}: {response!r}"

        async with connected(server, "bob", "py-offline") as bob:
            ours = lambda m: m["body"] in (first, second)  # noqa: E731
            await bob.become_available()
            got_first = await bob.next_message(ours, 10, "the first offline message")
            got_second = await bob.next_message(ours, 10, "the second offline message")
            assert [got_first["body"], got_second["body"]] == [first, second], (
                "offline messages arrived out of order"
            )
            assert got_first["from"].bare == server.jid("alice"), f"wrong from: {got_first}"

    run(scenario())


def test_chat_between_two_slixmpp_clients(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-chat") as alice, connected(
            server, "bob", "py-chat"
        ) as bob:
            await alice.become_available()
            await bob.become_available()

            hello = unique("hello bob, ünïcödé & <xml> ✓")
            alice.send_message(mto=server.jid("bob"), mbody=hello, mtype="chat")
            got = await bob.next_message(
                lambda m: m["body"] == hello, 10, "alice's message to arrive at bob"
            )
            assert got["type"] == "chat", f"wrong type: {got}"
            assert got["from"].full == alice.boundjid.full, f"wrong from: {got}"
            assert got["to"].bare == server.jid("bob"), f"wrong to: {got}"

            reply = unique("hi alice")
            bob.send_message(mto=got["from"], mbody=reply, mtype="chat")
            back = await alice.next_message(
                lambda m: m["body"] == reply, 10, "bob's reply to arrive at alice"
            )
            assert back["from"].full == bob.boundjid.full, f"wrong from: {back}"
            assert back["to"].full == alice.boundjid.full, f"wrong to: {back}"
            assert back["type"] == "chat", f"wrong type: {back}"

    run(scenario())


def test_bare_jid_message_goes_to_highest_priority_resource(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-prio") as alice, connected(
            server, "bob", "py-high"
        ) as high, connected(server, "bob", "py-low") as low:
            await alice.become_available()
            await high.become_available(priority=10)
            await low.become_available(priority=1)

            to_bare = unique("to bob's bare JID")
            alice.send_message(mto=server.jid("bob"), mbody=to_bare, mtype="chat")
            await high.next_message(
                lambda m: m["body"] == to_bare, 10, "the bare-JID message at the priority-10 resource"
            )

            # Stanzas from one session are routed in order (RFC 6120 §10.1): once this
            # marker reaches the low-priority resource, the bare-JID message would
            # have arrived there first if it had been delivered there too.
            marker = unique("marker to bob/py-low")
            alice.send_message(mto=low.boundjid.full, mbody=marker, mtype="chat")
            got = await low.next_message(
                lambda m: m["body"] in (to_bare, marker), 10, "the marker at the priority-1 resource"
            )
            assert got["body"] == marker, (
                "the bare-JID message was also delivered to the lower-priority resource"
            )

    run(scenario())


def test_rest_json_message_arrives_at_slixmpp(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-rest-json") as alice:
            await alice.become_available()
            body = unique('from curl: "quotes", <angle> & ampersand, émoji 🚀,\nsecond line')
            payload = json.dumps(
                {"kind": "message", "type": "chat", "to": server.jid("alice"), "body": body}
            )
            status, response = await curl_post(server, "bob", "application/json", payload)
            assert status == 202, f"POST /rest answered {status}: {response!r}"
            got = await alice.next_message(
                lambda m: m["from"].bare == server.jid("bob"),
                10,
                "the /rest (JSON) message from bob",
            )
            assert got["body"] == body, f"body changed in transit: sent {body!r}, got {got['body']!r}"
            assert got["type"] == "chat", f"wrong type: {got}"

    run(scenario())


def test_rest_xml_message_arrives_at_slixmpp(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "alice", "py-rest-xml") as alice:
            await alice.become_available()
            body = unique("xml via curl: a < b && c > d, 'single' \"double\"")
            escaped = (
                body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("'", "&apos;").replace('"', "&quot;")
            )
            stanza = (
                f"<message to='{server.jid('alice')}' type='chat'><body>{escaped}</body></message>"
            )
            status, response = await curl_post(server, "bob", "application/xmpp+xml", stanza)
            assert status == 202, f"POST /rest answered {status}: {response!r}"
            got = await alice.next_message(
                lambda m: m["from"].bare == server.jid("bob"),
                10,
                "the /rest (XML) message from bob",
            )
            assert got["body"] == body, f"body changed in transit: sent {body!r}, got {got['body']!r}"

    run(scenario())
