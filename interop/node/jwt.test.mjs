// JWT logins with @xmpp/client over WebSocket: PLAIN whose password is a token from
// `switchboard jwt create` (ejabberd's convention, for clients that know no token mechanism),
// and the refusal of a token for another account. Started by interop/run, whose server has
// auth.jwt.secret set (SWITCHBOARD_AUTH_JWT_SECRET, inherited by `jwt create` here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { client, xml } from "@xmpp/client";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: run this suite through interop/run`);
  return value;
}

const DOMAIN = env("INTEROP_DOMAIN");
const SERVICE = `ws://${env("INTEROP_HOST")}:${env("INTEROP_HTTP_PORT")}/xmpp-websocket`;

function jwtFor(user) {
  return execFileSync(env("INTEROP_BIN"), ["jwt", "create", `${user}@${DOMAIN}`, "--ttl", "600"], {
    encoding: "utf8",
  }).trim();
}

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A client that logs in with SASL PLAIN, the token as password, whatever else is offered. */
function tokenClient(username, token) {
  const xmpp = client({
    service: SERVICE,
    domain: DOMAIN,
    resource: "jwt",
    credentials: async (authenticate, mechanisms) => {
      assert.ok(mechanisms.includes("PLAIN"), `PLAIN offered: ${mechanisms}`);
      await authenticate({ username, password: token }, "PLAIN");
    },
  });
  xmpp.reconnect.stop();
  xmpp.on("error", () => {});
  return xmpp;
}

test("PLAIN with a JWT as password logs in over WebSocket and chats", async (t) => {
  const alice = tokenClient("alice", jwtFor("alice"));
  const bob = tokenClient("bob", jwtFor("bob"));
  t.after(async () => {
    for (const x of [alice, bob]) {
      if (x.status !== "offline") await within(x.stop(), 5000, "stop").catch(() => {});
    }
  });
  const aliceJid = await within(alice.start(), 10_000, "alice to log in");
  assert.equal(aliceJid.toString(), `alice@${DOMAIN}/jwt`);
  await within(bob.start(), 10_000, "bob to log in");
  // Available, so that a message to his bare JID comes to this session.
  const online = new Promise((resolve) =>
    bob.on("stanza", (s) => {
      if (s.is("presence") && s.attrs.from === `bob@${DOMAIN}/jwt`) resolve();
    }),
  );
  await bob.send(xml("presence"));
  await within(online, 10_000, "bob's own presence");
  const received = new Promise((resolve) =>
    bob.on("stanza", (s) => {
      if (s.is("message") && s.getChildText("body") === "signed in with a token") resolve(s);
    }),
  );
  await alice.send(xml("message", { to: `bob@${DOMAIN}`, type: "chat", id: "jwt-1" }, xml("body", {}, "signed in with a token")));
  const message = await within(received, 10_000, "bob to receive alice's message");
  assert.equal(message.attrs.from, `alice@${DOMAIN}/jwt`);
});

test("a token for another account is no password", async () => {
  const mallory = tokenClient("bob", jwtFor("alice"));
  await assert.rejects(within(mallory.start(), 10_000, "the refusal"), (e) => e.condition === "not-authorized");
  if (mallory.status !== "offline") await mallory.stop().catch(() => {});
});
