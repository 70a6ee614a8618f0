// The client REST API's rooms (/api/rooms) with an @xmpp/client occupant over WebSocket: the
// API client is plain fetch with HTTP Basic, as the seed's clients are. Started by interop/run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { client, xml } from "@xmpp/client";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: run this suite through interop/run`);
  return value;
}

const HOST = env("INTEROP_HOST");
const DOMAIN = env("INTEROP_DOMAIN");
const HTTP_PORT = env("INTEROP_HTTP_PORT");
const SERVICE = `ws://${HOST}:${HTTP_PORT}/xmpp-websocket`;
const API = `http://${HOST}:${HTTP_PORT}/api`;
const password = (user) => env(`INTEROP_PASSWORD_${user.toUpperCase()}`);
const bare = (user) => `${user}@${DOMAIN}`;

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function nextStanza(xmpp, predicate, ms, what) {
  let listener;
  const found = new Promise((resolve) => {
    listener = (stanza) => predicate(stanza) && resolve(stanza);
    xmpp.on("stanza", listener);
  });
  return within(found, ms, what).finally(() => xmpp.removeListener("stanza", listener));
}

async function call(user, method, path, body) {
  const auth = Buffer.from(`${bare(user)}:${password(user)}`).toString("base64");
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

test("rooms over the client API with an @xmpp/client occupant", { timeout: 30_000 }, async (t) => {
  const created = await call("gina", "POST", "/rooms", { name: "Interop", subject: "API and XMPP" });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id;
  assert.match(id, /^group-[0-9a-f-]{36}$/);
  const room = `${id}@conference.${DOMAIN}`;
  const added = await call("gina", "POST", `/rooms/${id}/users`, { user: bare("hank") });
  assert.equal(added.status, 204);

  const hank = client({ service: SERVICE, domain: DOMAIN, resource: "rooms-api", username: "hank", password: password("hank") });
  hank.reconnect.stop();
  t.after(async () => {
    if (hank.status !== "offline") await within(hank.stop(), 5000, "hank to stop").catch(() => {});
  });
  await within(hank.start(), 10_000, "hank to log in");
  const joined = nextStanza(hank, (s) => s.is("message") && s.getChild("subject"), 10_000, "the room's subject after joining");
  await hank.send(xml("presence", { to: `${room}/hank` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
  const subject = await joined;
  assert.equal(subject.getChildText("subject"), "API and XMPP");

  const posted = nextStanza(hank, (s) => s.is("message") && s.attrs.type === "groupchat" && s.getChild("body"), 10_000, "gina's message");
  const sent = await call("gina", "POST", `/rooms/${id}/messages`, { body: "hello from the API" });
  assert.equal(sent.status, 200);
  const message = await posted;
  assert.equal(message.attrs.from, `${room}/gina`);
  assert.equal(message.getChildText("body"), "hello from the API");

  const body = `from xmpp ${randomUUID()}`;
  const echoed = nextStanza(hank, (s) => s.is("message") && s.getChildText("body") === body, 10_000, "hank's own message echoed");
  await hank.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body)));
  await echoed;
  const history = await call("gina", "GET", `/rooms/${id}/messages?limit=2`);
  assert.equal(history.status, 200);
  assert.deepEqual(history.json.map((m) => [m.from, m.body]), [
    [bare("hank"), body],
    [bare("gina"), "hello from the API"],
  ]);
  const details = await call("hank", "GET", `/rooms/${id}`);
  assert.deepEqual(
    details.json.participants.map((p) => `${p.user}:${p.role}`).sort(),
    [`${bare("gina")}:owner`, `${bare("hank")}:member`],
  );
  const stranger = await call("alice", "GET", `/rooms/${id}`);
  assert.equal(stranger.status, 403);
  assert.equal(typeof stranger.json, "string");
});
