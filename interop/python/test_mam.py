"""The message archive (XEP-0313) through slixmpp's own xep_0313 plugin: history retrieved and
paged with XEP-0059, and the XEP-0359 stanza-ids of delivered messages found in the archive."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest

from conftest import Server, connected, within

pytestmark = pytest.mark.timeout(40)

MAM_PLUGINS = ("xep_0313", "xep_0359")


def test_history_is_retrieved_and_paged(server: Server) -> None:
    async def scenario() -> None:
        tag = uuid.uuid4().hex
        alice_jid, bob_jid = server.jid("alice"), server.jid("bob")
        async with connected(server, "alice", "py-mam", plugins=MAM_PLUGINS) as alice, connected(
            server, "bob", "py-mam", plugins=MAM_PLUGINS
        ) as bob:
            await bob.become_available()
            # Only this test's messages: the archives outlive each test of the session.
            since = datetime.now(timezone.utc)
            await asyncio.sleep(0.01)
            bodies = [f"{tag} {i}" for i in range(7)]
            for body in bodies:
                alice.send_message(mto=bob_jid, mbody=body, mtype="chat")
            stanza_ids = []
            for body in bodies:
                msg = await bob.next_message(lambda m, b=body: m["body"] == b, 10, f"'{body}' at bob")
                assert msg["stanza_id"]["by"] == bob_jid, f"no stanza-id by bob's archive: {msg}"
                stanza_ids.append(msg["stanza_id"]["id"])

            mam = alice.plugin["xep_0313"]

            async def alice_history(**kwargs) -> list[str]:
                out = []
                async for result in mam.iterate(jid=alice_jid, with_jid=bob_jid, start=since, **kwargs):
                    out.append(result["mam_result"]["forwarded"]["stanza"]["body"])
                return out

            # Three pages of three: slixmpp follows RSM <after/> until first index + page = count.
            forward = await within(alice_history(rsm={"max": 3}), 20, "alice's history, paged forward")
            assert forward == bodies, f"forward history {forward}"
            # Paging backwards starts with the newest page, newest message first.
            newest = await within(
                alice_history(reverse=True, rsm={"max": 3}, total=3), 20, "alice's newest page"
            )
            assert newest == bodies[:3:-1], f"newest page {newest}"

            # Bob's archive holds the messages under the ids his copies carried.
            iq = await within(
                bob.plugin["xep_0313"].retrieve(
                    jid=bob_jid, with_jid=alice_jid, start=since, rsm={"max": 50}
                ),
                15,
                "bob's archive",
            )
            results = iq["mam"]["results"]
            assert [r["mam_result"]["id"] for r in results] == stanza_ids, f"ids in {iq}"
            assert [r["mam_result"]["forwarded"]["stanza"]["body"] for r in results] == bodies
            assert all(r["mam_result"]["forwarded"]["delay"]["stamp"] for r in results)
            assert iq["mam_fin"]["complete"] in (True, "true"), f"not complete: {iq}"

            form = await within(mam.get_fields(jid=alice_jid), 10, "the MAM form")
            offered = {field.get("var") for field in form.xml.iter("{jabber:x:data}field")}
            assert {"with", "start", "end", "before-id", "after-id", "ids"} <= offered, (
                f"form fields {form}"
            )

    asyncio.run(scenario())
