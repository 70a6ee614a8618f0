// Switchboard interop with @xmpp/client over WebSocket (RFC 7395), plus curl on /rest.
// Started by interop/run, which passes the server's address and the accounts in INTEROP_*.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { client, xml, jid as parseJid } from "@xmpp/client";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: run this suite through interop/run`);
  return value;
}

if (typeof globalThis.WebSocket !== "function") {
  throw new Error("no global WebSocket (needed by @xmpp/websocket): on Node 20 run with --experimental-websocket");
}

const HOST = env("INTEROP_HOST");
const DOMAIN = env("INTEROP_DOMAIN");
const HTTP_PORT = env("INTEROP_HTTP_PORT");
const SERVICE = `ws://${HOST}:${HTTP_PORT}/xmpp-websocket`;
const REST_URL = `http://${HOST}:${HTTP_PORT}/rest`;
const password = (user) => env(`INTEROP_PASSWORD_${user.toUpperCase()}`);
const bare = (user) => `${user}@${DOMAIN}`;
const unique = (prefix) => `${prefix} ${randomUUID()}`;

const TEST_TIMEOUT = 30_000;

/** Resolves with `promise`, or rejects with a readable message after `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for the first stanza on `xmpp` for which `predicate` holds. */
function nextStanza(xmpp, predicate, ms, what) {
  const seen = [];
  let listener;
  const found = new Promise((resolve) => {
    listener = (stanza) => {
      if (predicate(stanza)) resolve(stanza);
      else seen.push(stanza.toString());
    };
    xmpp.on("stanza", listener);
  });
  return within(found, ms, what)
    .catch((err) => {
      err.message += `; other stanzas received: ${seen.length ? seen.join(" ") : "none"}`;
      throw err;
    })
    .finally(() => xmpp.removeListener("stanza", listener));
}

/** Logs `user` in over WebSocket; records the SASL mechanism the library picked. */
async function connect(t, user, resource) {
  const xmpp = client({ service: SERVICE, domain: DOMAIN, resource, username: user, password: password(user) });
  xmpp.reconnect.stop(); // a failed test must not be hidden by automatic reconnection
  const errors = [];
  xmpp.on("error", (err) => errors.push(err));
  xmpp.on("send", (element) => {
    if (element.is("auth", "urn:ietf:params:xml:ns:xmpp-sasl")) xmpp.saslMechanism = element.attrs.mechanism;
  });
  t.after(async () => {
    if (xmpp.status !== "offline") await within(xmpp.stop(), 5000, `${user} to stop`).catch(() => {});
  });
  try {
    const address = await within(xmpp.start(), 10_000, `${user} to log in over ${SERVICE}`);
    assert.equal(address.bare().toString(), bare(user), "bound JID has the wrong bare JID");
    assert.equal(address.getResource(), resource, "bound JID has the wrong resource");
  } catch (err) {
    err.message += errors.length ? `; client errors: ${errors.map(String).join("; ")}` : "";
    throw err;
  }
  t.diagnostic(`${user} logged in as ${xmpp.jid} with SASL ${xmpp.saslMechanism ?? "(none)"}`);
  return xmpp;
}

/** Initial presence; resolves once the server reflects it back (RFC 6121 §4.2.2). */
async function becomeAvailable(xmpp) {
  const self = xmpp.jid.toString();
  const reflected = nextStanza(
    xmpp,
    (s) => s.is("presence") && s.attrs.from === self && !s.attrs.type,
    5000,
    `${self} to receive its own initial presence back`,
  );
  await xmpp.send(xml("presence"));
  await reflected;
}

const isChatWithBody = (body) => (s) => s.is("message") && s.getChildText("body") === body;

function curlPost(user, contentType, body) {
  const args = [
    "--silent", "--show-error", "--max-time", "10",
    "--user", `${user}:${password(user)}`,
    "--header", `Content-Type: ${contentType}`,
    "--data-binary", "@-",
    "--write-out", "\n%{http_code}",
    REST_URL,
  ];
  return within(
    new Promise((resolve, reject) => {
      const child = execFile("curl", args, { encoding: "utf8" }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl failed: ${err.message} ${stderr}`));
        const cut = stdout.lastIndexOf("\n");
        resolve({ status: Number(stdout.slice(cut + 1)), response: stdout.slice(0, cut) });
      });
      child.stdin.end(body, "utf8");
    }),
    15_000,
    "curl to finish",
  );
}

test("login over WebSocket and roster get", { timeout: TEST_TIMEOUT }, async (t) => {
  const carol = await connect(t, "carol", "node-roster");
  const query = await within(
    carol.iqCaller.get(xml("query", { xmlns: "jabber:iq:roster" })),
    10_000,
    "the roster get result",
  );
  assert.ok(query, "roster result carries no payload");
  assert.equal(query.name, "query");
  assert.equal(query.attrs.xmlns, "jabber:iq:roster");
  for (const item of query.getChildren("item")) {
    assert.ok(item.attrs.jid, `roster item without jid: ${item}`);
  }
});

test("chat between two @xmpp/client users", { timeout: TEST_TIMEOUT }, async (t) => {
  const carol = await connect(t, "carol", "node-chat");
  const dave = await connect(t, "dave", "node-chat");
  await becomeAvailable(carol);
  await becomeAvailable(dave);

  const hello = unique("hello dave, ünïcödé & <xml> ✓");
  const arrives = nextStanza(dave, isChatWithBody(hello), 10_000, "carol's message at dave");
  await carol.send(xml("message", { to: bare("dave"), type: "chat" }, xml("body", {}, hello)));
  const got = await arrives;
  assert.equal(got.attrs.type, "chat");
  assert.equal(got.attrs.from, carol.jid.toString(), "message from is not carol's full JID");
  assert.equal(parseJid(got.attrs.to).bare().toString(), bare("dave"));

  const reply = unique("hi carol");
  const back = nextStanza(carol, isChatWithBody(reply), 10_000, "dave's reply at carol");
  await dave.send(xml("message", { to: got.attrs.from, type: "chat" }, xml("body", {}, reply)));
  const answer = await back;
  assert.equal(answer.attrs.from, dave.jid.toString());
  assert.equal(answer.attrs.to, carol.jid.toString());
});

test("JSON message POSTed with curl to /rest arrives over WebSocket", { timeout: TEST_TIMEOUT }, async (t) => {
  const dave = await connect(t, "dave", "node-rest-json");
  await becomeAvailable(dave);
  const body = unique('from curl: "quotes", <angle> & ampersand, émoji 🚀,\nsecond line');
  const arrives = nextStanza(
    dave,
    (s) => s.is("message") && parseJid(s.attrs.from ?? "").bare().toString() === bare("carol"),
    10_000,
    "the /rest (JSON) message from carol",
  );
  const payload = JSON.stringify({ kind: "message", type: "chat", to: bare("dave"), body });
  const { status, response } = await curlPost("carol", "application/json", payload);
  assert.equal(status, 202, `POST /rest answered ${status}: ${response}`);
  const got = await arrives;
  assert.equal(got.getChildText("body"), body, "body changed in transit");
  assert.equal(got.attrs.type, "chat");
});

test("XML message POSTed with curl to /rest arrives over WebSocket", { timeout: TEST_TIMEOUT }, async (t) => {
  const dave = await connect(t, "dave", "node-rest-xml");
  await becomeAvailable(dave);
  const body = unique("xml via curl: a < b && c > d, 'single' \"double\"");
  const stanza = xml("message", { to: bare("dave"), type: "chat" }, xml("body", {}, body)).toString();
  const arrives = nextStanza(
    dave,
    (s) => s.is("message") && parseJid(s.attrs.from ?? "").bare().toString() === bare("carol"),
    10_000,
    "the /rest (XML) message from carol",
  );
  const { status, response } = await curlPost("carol", "application/xmpp+xml", stanza);
  assert.equal(status, 202, `POST /rest answered ${status}: ${response}`);
  const got = await arrives;
  assert.equal(got.getChildText("body"), body, "body changed in transit");
});

test("subscription and a delivery receipt between @xmpp/client users", { timeout: TEST_TIMEOUT }, async (t) => {
  const carol = await connect(t, "carol", "node-sub");
  const dave = await connect(t, "dave", "node-sub");
  for (const xmpp of [carol, dave]) {
    // Fetching the roster makes the session interested in roster pushes (RFC 6121 §2.1.6).
    await within(xmpp.iqCaller.get(xml("query", { xmlns: "jabber:iq:roster" })), 10_000, "the roster");
    await becomeAvailable(xmpp);
  }
  // dave acknowledges what asks for a receipt (XEP-0184), as a chat client does.
  dave.on("stanza", (s) => {
    if (s.is("message") && s.getChild("request", "urn:xmpp:receipts") && s.attrs.id) {
      dave.send(xml("message", { to: s.attrs.from, id: randomUUID() }, xml("received", { xmlns: "urn:xmpp:receipts", id: s.attrs.id })));
    }
  });

  const request = nextStanza(
    dave,
    (s) => s.is("presence") && s.attrs.type === "subscribe" && s.attrs.from === bare("carol"),
    10_000,
    "carol's subscription request at dave",
  );
  const pending = nextStanza(
    carol,
    (s) => s.is("iq") && s.attrs.type === "set" && s.getChild("query")?.getChild("item")?.attrs.ask === "subscribe",
    10_000,
    "the roster push with carol's pending request",
  );
  await carol.send(xml("presence", { to: bare("dave"), type: "subscribe" }));
  await request;
  await pending;

  const approved = nextStanza(
    carol,
    (s) => s.is("presence") && s.attrs.type === "subscribed" && s.attrs.from === bare("dave"),
    10_000,
    "dave's approval at carol",
  );
  const pushed = nextStanza(
    carol,
    (s) => s.is("iq") && s.attrs.type === "set" && s.getChild("query")?.getChild("item")?.attrs.subscription === "to",
    10_000,
    "the roster push with subscription 'to'",
  );
  const presence = nextStanza(
    carol,
    (s) => s.is("presence") && !s.attrs.type && s.attrs.from === dave.jid.toString(),
    10_000,
    "dave's presence at carol after the approval",
  );
  await dave.send(xml("presence", { to: bare("carol"), type: "subscribed" }));
  await Promise.all([approved, pushed, presence]);

  const status = nextStanza(
    carol,
    (s) => s.is("presence") && s.attrs.from === dave.jid.toString() && s.getChildText("status") === "on the web",
    10_000,
    "dave's status change at carol",
  );
  await dave.send(xml("presence", {}, xml("status", {}, "on the web")));
  await status;

  const id = randomUUID();
  const receipt = nextStanza(
    carol,
    (s) => s.is("message") && s.getChild("received", "urn:xmpp:receipts")?.attrs.id === id,
    10_000,
    "dave's receipt at carol",
  );
  await carol.send(
    xml("message", { to: bare("dave"), type: "chat", id }, xml("body", {}, unique("receipt please")), xml("request", { xmlns: "urn:xmpp:receipts" })),
  );
  const got = await receipt;
  assert.equal(got.attrs.from, dave.jid.toString(), "the receipt is not from dave's full JID");
});
