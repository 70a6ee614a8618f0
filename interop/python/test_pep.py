"""PEP (XEP-0163 on XEP-0060) with slixmpp's own plugins: an OMEMO-shaped flow (device list
published with publish-options, a bundle, another account fetching both and notified of a
change through its XEP-0115 capabilities), avatars (XEP-0084) seen through vCard-temp
(XEP-0054, XEP-0398), and XEP-0048 bookmarks in private storage (XEP-0049) seen as XEP-0402
items.

erin publishes and frank, subscribed to her presence, is notified: they are this suite's own
accounts, since other suites expect the rosters of theirs as they leave them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
import xml.etree.ElementTree as ET

import pytest
from slixmpp.plugins.xep_0004 import Form
from slixmpp.plugins.xep_0048.stanza import Bookmarks

from conftest import Client, Server, connected, within

pytestmark = pytest.mark.timeout(40)

DEVICES = "urn:xmpp:omemo:2:devices"
BUNDLES = "urn:xmpp:omemo:2:bundles"
OMEMO = "urn:xmpp:omemo:2"
PUBSUB_PLUGINS = ("xep_0030", "xep_0060", "xep_0115", "xep_0163")


def publish_options(**fields: str) -> Form:
    form = Form()
    form["type"] = "submit"
    form.add_field(
        var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options"
    )
    for var, value in fields.items():
        form.add_field(var=f"pubsub#{var}", value=value)
    return form


def device_list(*ids: int) -> ET.Element:
    devices = ET.Element(f"{{{OMEMO}}}devices")
    for device in ids:
        ET.SubElement(devices, f"{{{OMEMO}}}device", {"id": str(device)})
    return devices


async def subscribed(owner: Client, contact: Client) -> None:
    """`contact` gets a presence subscription to `owner` (approved by owner's slixmpp)."""
    owner.auto_authorize = True
    owner.auto_subscribe = False
    for client in (owner, contact):
        await within(client.get_roster(timeout=10), 12, "roster get result")
    contact.client_roster.subscribe(owner.boundjid.bare)

    async def until_subscribed() -> None:
        while contact.client_roster[owner.boundjid.bare]["subscription"] not in ("to", "both"):
            await asyncio.sleep(0.05)

    await within(until_subscribed(), 15, "the subscription to be approved")


def test_omemo_devicelist_and_bundle(server: Server) -> None:
    async def scenario() -> None:
        async with connected(server, "erin", "py-pep", plugins=PUBSUB_PLUGINS) as erin, connected(
            server, "frank", "py-pep", plugins=PUBSUB_PLUGINS
        ) as frank:
            notifications: asyncio.Queue = asyncio.Queue()
            frank.add_event_handler("pubsub_publish", notifications.put_nowait)
            # frank's client asks for device list notifications in its capabilities; the server
            # asks what its ver means and checks the answer.
            frank.plugin["xep_0163"].add_interest(DEVICES)
            await within(
                frank.plugin["xep_0115"].update_caps(broadcast=False), 10, "caps recomputed"
            )
            await erin.become_available()
            await frank.become_available()
            await subscribed(erin, frank)

            pubsub = erin.plugin["xep_0060"]
            result = await within(
                pubsub.publish(
                    None,
                    DEVICES,
                    id="current",
                    payload=device_list(1001),
                    options=publish_options(access_model="open"),
                    timeout=10,
                ),
                12,
                "the device list publish",
            )
            assert result["type"] == "result", f"publish failed: {result}"
            bundle = ET.Element(f"{{{OMEMO}}}bundle")
            ET.SubElement(bundle, f"{{{OMEMO}}}ik").text = base64.b64encode(b"ik").decode()
            result = await within(
                pubsub.publish(
                    None,
                    BUNDLES,
                    id="1001",
                    payload=bundle,
                    options=publish_options(access_model="open", max_items="max"),
                    timeout=10,
                ),
                12,
                "the bundle publish",
            )
            assert result["type"] == "result", f"publish failed: {result}"

            # frank fetches both, as a client starting an OMEMO session does.
            erin_jid = erin.boundjid.bare
            fetched = await within(
                frank.plugin["xep_0060"].get_items(erin_jid, DEVICES, timeout=10), 12, "device list"
            )
            items = list(fetched["pubsub"]["items"])
            assert [i["id"] for i in items] == ["current"], f"unexpected items: {fetched}"
            assert items[0].xml.find(f"{{{OMEMO}}}devices") is not None, fetched
            fetched = await within(
                frank.plugin["xep_0060"].get_item(erin_jid, BUNDLES, "1001", timeout=10),
                12,
                "bundle",
            )
            assert fetched["pubsub"]["items"]["item"]["id"] == "1001", fetched

            # A precondition the node does not meet: conflict + precondition-not-met.
            with pytest.raises(Exception) as refused:
                await within(
                    pubsub.publish(
                        None,
                        DEVICES,
                        id="current",
                        payload=device_list(1001),
                        options=publish_options(access_model="whitelist"),
                        timeout=10,
                    ),
                    12,
                    "a publish with a precondition not met",
                )
            error = refused.value.iq["error"]  # type: ignore[attr-defined]
            assert error["condition"] == "conflict", f"unexpected error: {error}"
            assert error.xml.find(
                "{http://jabber.org/protocol/pubsub#errors}precondition-not-met"
            ) is not None, f"no precondition-not-met: {error}"

            # A new device: frank is notified with the new list.
            await within(
                pubsub.publish(
                    None,
                    DEVICES,
                    id="current",
                    payload=device_list(1001, 2002),
                    options=publish_options(access_model="open"),
                    timeout=10,
                ),
                12,
                "the second device list publish",
            )

            async def two_devices() -> None:
                while True:
                    msg = await notifications.get()
                    items = msg["pubsub_event"]["items"]
                    if items["node"] != DEVICES:
                        continue
                    devices = items["item"].xml.find(f"{{{OMEMO}}}devices")
                    if devices is not None and len(list(devices)) == 2:
                        assert msg["from"] == erin_jid, f"not from erin's account: {msg}"
                        return

            await within(two_devices(), 10, "the device list notification with two devices")

    asyncio.run(scenario())


def test_avatar_is_seen_through_vcard(server: Server) -> None:
    async def scenario() -> None:
        plugins = PUBSUB_PLUGINS + ("xep_0084", "xep_0054")
        async with connected(server, "erin", "py-avatar", plugins=plugins) as erin, connected(
            server, "frank", "py-avatar", plugins=plugins
        ) as frank:
            image = uuid.uuid4().bytes + b"png"
            avatar_id = hashlib.sha1(image).hexdigest()
            avatar = erin.plugin["xep_0084"]
            result = await within(avatar.publish_avatar(image, timeout=10), 12, "avatar data")
            assert result["type"] == "result", result
            result = await within(
                avatar.publish_avatar_metadata(
                    {"id": avatar_id, "type": "image/png", "bytes": len(image)}, timeout=10
                ),
                12,
                "avatar metadata",
            )
            assert result["type"] == "result", result
            vcard = await within(
                frank.plugin["xep_0054"].get_vcard(erin.boundjid.bare, local=False, timeout=10),
                12,
                "erin's vCard",
            )
            photo = vcard["vcard_temp"]["PHOTO"]
            assert photo["TYPE"] == "image/png", f"unexpected PHOTO: {vcard}"
            assert photo["BINVAL"] == image, f"PHOTO is not the avatar: {vcard}"

    asyncio.run(scenario())


def test_bookmarks_in_private_storage_are_pep_items(server: Server) -> None:
    async def scenario() -> None:
        plugins = ("xep_0030", "xep_0048", "xep_0049", "xep_0060", "xep_0402")
        async with connected(server, "erin", "py-bookmarks", plugins=plugins) as erin:
            room = f"room-{uuid.uuid4().hex[:8]}@conference.example"
            bookmarks = Bookmarks()
            bookmarks.add_conference(room, "erin", name="Interop", autojoin=True)
            result = await within(
                erin.plugin["xep_0048"].set_bookmarks(bookmarks, method="xep_0049", timeout=10),
                12,
                "bookmarks stored",
            )
            assert result["type"] == "result", result
            stored = await within(
                erin.plugin["xep_0048"].get_bookmarks(method="xep_0049", timeout=10),
                12,
                "bookmarks read back",
            )
            rooms = [c["jid"] for c in stored["private"]["bookmarks"]["conferences"]]
            assert room in rooms, f"bookmark not read back: {stored}"
            items = await within(
                erin.plugin["xep_0060"].get_items(
                    erin.boundjid.bare, "urn:xmpp:bookmarks:1", timeout=10
                ),
                12,
                "the XEP-0402 node",
            )
            by_id = {i["id"]: i for i in items["pubsub"]["items"]}
            assert room in by_id, f"bookmark missing from the PEP node: {items}"
            conference = by_id[room]["conference"]
            assert conference["name"] == "Interop" and conference["autojoin"], conference

    asyncio.run(scenario())
