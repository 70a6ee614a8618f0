"""The client REST API (/api, MongooseIM's shapes) driven the way the seed's clients do: plain
`requests` with HTTP Basic (the bare JID) and a few lines of Server-Sent Events parsing, with
a slixmpp client on the other side of the contacts flow."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Callable, Iterator

import pytest
import requests

from conftest import Client, Server, connected, within

pytestmark = pytest.mark.timeout(40)


def api(server: Server, path: str) -> str:
    return f"http://{server.host}:{server.http_port}/api{path}"


def session(server: Server, user: str) -> requests.Session:
    s = requests.Session()
    s.auth = (server.jid(user), server.password(user))
    return s


def events(response: requests.Response) -> Iterator[dict]:
    """Server-Sent Events as dicts (`event`, `id`, `data`); comments (heartbeats) skipped."""
    event: dict = {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            event[field] = value[1:] if value.startswith(" ") else value


@contextlib.contextmanager
def stream(server: Server, user: str, last_id: str | None = None) -> Iterator[Iterator[dict]]:
    headers = {"Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    response = session(server, user).get(api(server, "/sse"), headers=headers, stream=True, timeout=15)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    try:
        yield events(response)
    finally:
        # A forced disconnect: the socket is closed under the stream.
        response.close()


def send(server: Server, sender: str, to: str, body: str) -> str:
    r = session(server, sender).post(api(server, "/messages"), json={"to": server.jid(to), "body": body})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_send_and_history_with_smack_properties(server: Server) -> None:
    gina = session(server, "gina")
    r = gina.post(
        api(server, "/messages"),
        json={"to": server.jid("hank"), "body": "Hi!", "properties": {"some_number": 123, "flag": True}},
    )
    assert r.status_code == 200, r.text
    send(server, "gina", "hank", "second")
    r = session(server, "hank").get(api(server, f"/messages/{server.jid('gina')}"), params={"limit": 2})
    assert r.status_code == 200, r.text
    newest, older = r.json()
    assert newest["body"] == "second"
    assert older["from"] == server.jid("gina") and older["to"] == server.jid("hank")
    assert older["properties"] == {"some_number": "123", "flag": "true"}, "strings, as the seed says"
    typed = session(server, "hank").get(
        api(server, "/messages"), params={"limit": 2, "typed": "true"}
    ).json()
    assert typed[1]["properties"] == {"some_number": 123, "flag": True}
    after = session(server, "hank").get(
        api(server, "/messages"), params={"after_id": older["id"]}
    ).json()
    assert [m["body"] for m in after] == ["second"]
    r = requests.get(api(server, "/messages"), timeout=10)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="switchboard"'
    r = gina.get(api(server, "/messages"), params={"limit": "lots"})
    assert r.status_code == 400 and isinstance(r.json(), str)


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await within(loop(), seconds, what)


def test_contacts_invite_and_accept_with_a_slixmpp_peer(server: Server) -> None:
    gina_jid, hank_jid = server.jid("gina"), server.jid("hank")

    async def scenario() -> None:
        async with connected(server, "hank", "py-api") as hank:
            hank.auto_authorize = True
            hank.auto_subscribe = False
            result = await within(hank.get_roster(timeout=10), 12, "roster get result")
            assert result["type"] == "result"
            await hank.become_available()
            gina = session(server, "gina")
            r = await asyncio.to_thread(gina.post, api(server, "/contacts"), json={"jid": hank_jid})
            assert r.status_code == 204, r.text
            r = await asyncio.to_thread(
                gina.put, api(server, f"/contacts/{hank_jid}"), json={"action": "invite"}
            )
            assert r.status_code == 204, r.text
            # hank's slixmpp approves the request it receives: gina's side turns "to".
            def contact() -> dict:
                listed = gina.get(api(server, "/contacts"), timeout=10).json()
                return next(c for c in listed if c["jid"] == hank_jid)

            async def subscribed() -> None:
                while (await asyncio.to_thread(contact))["subscription"] != "to":
                    await asyncio.sleep(0.1)

            await within(subscribed(), 15, "gina's contact to become 'to' once hank approved")
            await until(
                lambda: hank.client_roster[gina_jid]["subscription"] == "from",
                10,
                "hank's roster push to show 'from'",
            )
            r = await asyncio.to_thread(gina.delete, api(server, f"/contacts/{hank_jid}"))
            assert r.status_code == 204
            await until(
                lambda: hank.client_roster[gina_jid]["subscription"] == "none",
                10,
                "hank's roster to show the subscription gone",
            )

    asyncio.run(scenario())


def test_event_stream_forced_disconnect_and_resume(server: Server) -> None:
    with stream(server, "gina") as live:
        send(server, "hank", "gina", "one")
        first = next(live)
        assert first["event"] == "message"
        assert '"body":"one"' in first["data"]
        last_id = first["id"]
    # Away: what arrives now is archived.
    send(server, "hank", "gina", "two")
    send(server, "hank", "gina", "three")
    with stream(server, "gina", last_id) as resumed:
        send(server, "hank", "gina", "four")
        got = [next(resumed) for _ in range(3)]
    assert [json.loads(e["data"])["body"] for e in got] == ["two", "three", "four"]
    assert len({e["id"] for e in got}) == 3


def test_rooms_with_an_xmpp_occupant_and_room_events(server: Server) -> None:
    gina, hank_jid = session(server, "gina"), server.jid("hank")
    r = gina.post(api(server, "/rooms"), json={"name": "Py team", "subject": "plans"})
    assert r.status_code == 201, r.text
    room_id = r.json()["id"]
    assert room_id.startswith("group-")
    room = f"{room_id}@conference.{server.domain}"
    r = gina.post(api(server, f"/rooms/{room_id}/users"), json={"user": hank_jid})
    assert r.status_code == 204, r.text

    async def scenario() -> None:
        with stream(server, "gina") as live:
            async with connected(server, "hank", "py-rooms", plugins=("xep_0030", "xep_0045")) as hank:
                await within(
                    hank.plugin["xep_0045"].join_muc_wait(room, "hank", maxstanzas=0, timeout=10),
                    15,
                    "hank's join of the members-only room",
                )
                r = await asyncio.to_thread(
                    gina.post, api(server, f"/rooms/{room_id}/messages"), json={"body": "from the API"}
                )
                assert r.status_code == 200, r.text
                got = await hank.next_message(
                    lambda m: m["type"] == "groupchat" and m["body"] == "from the API", 10, "the API's post"
                )
                assert got["from"] == f"{room}/gina"
                hank.send_message(mto=room, mbody="from slixmpp", mtype="groupchat")

                def room_event() -> dict:
                    for event in live:
                        if event["event"] == "room.message" and "from slixmpp" in event["data"]:
                            return event
                    raise AssertionError("stream ended")

                event = await within(asyncio.to_thread(room_event), 15, "gina's room.message event")
                data = json.loads(event["data"])
                assert data["room"] == room and data["from"] == f"{room}/hank"
                assert event["id"] == data["id"] != ""

    asyncio.run(scenario())
    r = gina.get(api(server, f"/rooms/{room_id}/messages"), params={"limit": 10})
    assert r.status_code == 200, r.text
    assert [m["body"] for m in r.json()][:2] == ["from slixmpp", "from the API"]
