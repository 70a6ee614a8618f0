// Group chat (XEP-0045) with @xmpp/client over WebSocket: the WebSocket chat seed's exact flow.
// alice joins group-<uuid>@conference.localhost as "alice", bob joins, both see each other's
// presence, alice's groupchat message reaches bob from group-<uuid>@conference.localhost/alice,
// and a late joiner gets it as history. Started by interop/run with the INTEROP_* settings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { client, xml } from "@xmpp/client";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: run this suite through interop/run`);
  return value;
}

const DOMAIN = env("INTEROP_DOMAIN");
const SERVICE = `ws://${env("INTEROP_HOST")}:${env("INTEROP_HTTP_PORT")}/xmpp-websocket`;
const MUC_USER = "http://jabber.org/protocol/muc#user";

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Collects every stanza from the start, so that nothing arriving early is missed. */
function recorder(xmpp) {
  const seen = [];
  const waiters = [];
  xmpp.on("stanza", (stanza) => {
    seen.push(stanza);
    for (const w of waiters.slice()) {
      if (w.predicate(stanza)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(stanza);
      }
    }
  });
  return {
    seen,
    wait(predicate, what) {
      const found = seen.find(predicate);
      if (found) return Promise.resolve(found);
      return within(new Promise((resolve) => waiters.push({ predicate, resolve })), 10_000, what);
    },
  };
}

async function connect(t, user) {
  const xmpp = client({
    service: SERVICE,
    domain: DOMAIN,
    resource: `web-${randomUUID().slice(0, 6)}`,
    username: user,
    password: env(`INTEROP_PASSWORD_${user.toUpperCase()}`),
  });
  xmpp.reconnect.stop();
  xmpp.on("error", () => {});
  const inbox = recorder(xmpp);
  t.after(async () => {
    if (xmpp.status !== "offline") await within(xmpp.stop(), 5000, `${user} to stop`).catch(() => {});
  });
  await within(xmpp.start(), 10_000, `${user} to log in`);
  // The seed: initial presence after authentication.
  await xmpp.send(xml("presence"));
  return { xmpp, inbox };
}

const isOwnPresence = (room, nick) => (s) =>
  s.is("presence") &&
  s.attrs.from === `${room}/${nick}` &&
  !s.attrs.type &&
  (s.getChild("x", MUC_USER)?.getChildren("status") ?? []).some((c) => c.attrs.code === "110");

async function join(user, room, nick) {
  const joined = user.inbox.wait(isOwnPresence(room, nick), `${nick}'s own presence in ${room}`);
  await user.xmpp.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
  return joined;
}

test("the WebSocket seed's group chat flow", { timeout: 30_000 }, async (t) => {
  const room = `group-${randomUUID()}@conference.${DOMAIN}`;
  const alice = await connect(t, "alice");
  const bob = await connect(t, "bob");

  await join(alice, room, "alice");
  await join(bob, room, "bob");
  // Presence of both is seen by both.
  await bob.inbox.wait((s) => s.is("presence") && s.attrs.from === `${room}/alice`, "alice's presence at bob");
  await alice.inbox.wait((s) => s.is("presence") && s.attrs.from === `${room}/bob`, "bob's presence at alice");

  const body = `hello group ${randomUUID()}`;
  const arrives = bob.inbox.wait((s) => s.is("message") && s.getChildText("body") === body, "alice's message at bob");
  await alice.xmpp.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body)));
  const got = await arrives;
  assert.equal(got.attrs.from, `${room}/alice`);
  assert.equal(got.attrs.type, "groupchat");
  assert.equal(got.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs.by, room);

  // A late joiner receives it as history, with its delay stamp from the room.
  const carol = await connect(t, "carol");
  const history = carol.inbox.wait(
    (s) => s.is("message") && s.getChildText("body") === body,
    "the history at the late joiner",
  );
  await join(carol, room, "carol");
  const old = await history;
  assert.equal(old.attrs.from, `${room}/alice`);
  assert.equal(old.getChild("delay", "urn:xmpp:delay")?.attrs.from, room);
});
