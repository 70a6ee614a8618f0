"""Group chat (XEP-0045) through slixmpp's own xep_0045 plugin: joining with history, the
subject, a kick, and the owner's configuration form."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conftest import Server, connected, within

pytestmark = pytest.mark.timeout(40)

MUC_PLUGINS = ("xep_0030", "xep_0045", "xep_0203")


def room_jid(server: Server) -> str:
    return f"py-{uuid.uuid4().hex[:12]}@conference.{server.domain}"


def test_join_history_and_subject(server: Server) -> None:
    async def scenario() -> None:
        room = room_jid(server)
        async with connected(server, "alice", "py-muc", plugins=MUC_PLUGINS) as alice, connected(
            server, "bob", "py-muc", plugins=MUC_PLUGINS
        ) as bob:
            muc_a, muc_b = alice.plugin["xep_0045"], bob.plugin["xep_0045"]
            own, _subject, occupants, history = await within(
                muc_a.join_muc_wait(room, "alice", maxstanzas=0, timeout=10), 15, "alice's join"
            )
            codes = {int(s) for s in own["muc"]["status_codes"]}
            assert {110, 201} <= codes, f"self-presence codes {codes}"
            assert own["muc"]["affiliation"] == "owner"
            assert history == []
            # slixmpp counts the joiner itself among the occupants it saw come online.
            assert [str(p["from"]) for p in occupants] == [f"{room}/alice"]

            bodies = [f"line {i} {uuid.uuid4().hex[:6]}" for i in range(3)]
            for body in bodies:
                alice.send_message(mto=room, mbody=body, mtype="groupchat")
                echoed = await alice.next_message(
                    lambda m, b=body: m["type"] == "groupchat" and m["body"] == b, 10, f"echo of {body}"
                )
                assert echoed["from"] == f"{room}/alice"
            subject_set: asyncio.Future = asyncio.get_running_loop().create_future()
            alice.add_event_handler(
                f"muc::{room}::groupchat_subject",
                lambda m: subject_set.done() or subject_set.set_result(m["subject"]),
            )
            muc_a.set_subject(room, "today's topic")
            assert await within(subject_set, 10, "the subject echo") == "today's topic"

            _own, subject, occupants, history = await within(
                muc_b.join_muc_wait(room, "bob", maxstanzas=2, timeout=10), 15, "bob's join"
            )
            assert [m["body"] for m in history] == bodies[1:], f"history {[m['body'] for m in history]}"
            assert all(m["from"] == f"{room}/alice" for m in history)
            assert subject["subject"] == "today's topic"
            assert f"{room}/alice" in [str(p["from"]) for p in occupants]
            assert "alice" in muc_b.get_roster(room)

    asyncio.run(scenario())


def test_kick(server: Server) -> None:
    async def scenario() -> None:
        room = room_jid(server)
        async with connected(server, "alice", "py-kick", plugins=MUC_PLUGINS) as alice, connected(
            server, "bob", "py-kick", plugins=MUC_PLUGINS
        ) as bob:
            muc_a, muc_b = alice.plugin["xep_0045"], bob.plugin["xep_0045"]
            await within(muc_a.join_muc_wait(room, "alice", timeout=10), 15, "alice's join")
            await within(muc_b.join_muc_wait(room, "bob", timeout=10), 15, "bob's join")
            kicked: asyncio.Future = asyncio.get_running_loop().create_future()

            def on_presence(pres) -> None:
                if pres["type"] == "unavailable" and not kicked.done():
                    kicked.set_result(pres)

            bob.add_event_handler(f"muc::{room}::presence", on_presence)
            await within(muc_a.set_role(room, "bob", "none", reason="bye"), 10, "the kick")
            pres = await within(kicked, 10, "bob's unavailable presence")
            codes = {int(s) for s in pres["muc"]["status_codes"]}
            assert {110, 307} <= codes, f"kick codes {codes}"
            assert pres["from"] == f"{room}/bob"

    asyncio.run(scenario())


def test_config_form(server: Server) -> None:
    async def scenario() -> None:
        room = room_jid(server)
        async with connected(server, "alice", "py-config", plugins=MUC_PLUGINS) as alice:
            muc = alice.plugin["xep_0045"]
            await within(muc.join_muc_wait(room, "alice", timeout=10), 15, "alice's join")
            form = await within(muc.get_room_config(room), 10, "the configuration form")
            fields = form.get_fields()
            for var in ("muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_whois"):
                assert var in fields, f"{var} not in {list(fields)}"
            fields["muc#roomconfig_roomname"]["value"] = "Python room"
            fields["muc#roomconfig_persistentroom"]["value"] = True
            await within(muc.set_room_config(room, form), 10, "the submitted form")
            info = await within(alice.plugin["xep_0030"].get_info(jid=room), 10, "the room's disco#info")
            features = info["disco_info"]["features"]
            assert "muc_persistent" in features, features
            identities = info["disco_info"]["identities"]
            assert any(i[0] == "conference" and i[3] == "Python room" for i in identities), identities
            # Destroy it, so that the persistent room does not outlive the test.
            await within(muc.destroy(room, reason="done"), 10, "the destruction")

    asyncio.run(scenario())
