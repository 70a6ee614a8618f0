// The example app (examples/web-chat: converse.js, cookie login, SASL EXTERNAL) in headless
// Chromium — Debian's chromium driven by puppeteer-core, never a downloaded browser. Two
// browser contexts log in as alice and bob through the development login's cookie, see each
// other online, exchange a 1:1 message with a delivery receipt, and both join
// group-<uuid>@conference.<domain> and read each other's messages from room/alice and room/bob.
// Screenshots go to target/browser/. Started by interop/run, whose server serves the app from
// http.static_dir with auth.jwt.dev_login on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import puppeteer from "puppeteer-core";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set: run this suite through interop/run`);
  return value;
}

const DOMAIN = env("INTEROP_DOMAIN");
const BASE = `http://${env("INTEROP_HOST")}:${env("INTEROP_HTTP_PORT")}`;
const CHROMIUM = process.env.INTEROP_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = resolve(process.env.INTEROP_SCREENSHOTS ?? "../../target/browser");
const WAIT = 20_000;

/** Logs `user` in through login.html and waits until converse.js is connected. */
async function logIn(browser, user) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${user}] page error: ${e.message}`));
  await page.setViewport({ width: 1100, height: 700 });
  await page.goto(`${BASE}/index.html`);
  // Not logged in yet: the app sends the browser to its login page.
  await page.waitForSelector("#login", { timeout: WAIT });
  await page.type("#user", user);
  await Promise.all([page.waitForNavigation({ timeout: WAIT }), page.click("#login button")]);
  const cookies = await context.cookies(BASE);
  const cookie = cookies.find((c) => c.name === "auth_token");
  assert.ok(cookie?.httpOnly, "the login set the HttpOnly auth_token cookie");
  await page.waitForFunction(() => window.webChat?.api?.connection?.connected?.(), { timeout: WAIT });
  const jid = await page.evaluate(() => window.webChat.session.get("jid"));
  assert.match(jid, new RegExp(`^${user}@${DOMAIN}/`));
  return { context, page, user };
}

test("two browsers chat 1:1 with a receipt and in a group-<uuid> room", async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "switchboard-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  t.after(async () => {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  });

  const alice = await logIn(browser, "alice");
  const bob = await logIn(browser, "bob");

  // 1:1: alice writes to bob (converse asks for an XEP-0184 receipt on chat messages).
  const body = `Hello Bob, it is ${randomUUID().slice(0, 8)}`;
  await alice.page.evaluate(async (to, body) => {
    const chat = await window.webChat.api.chats.open(to);
    await chat.sendMessage({ body });
  }, `bob@${DOMAIN}`, body);
  await bob.page.waitForFunction(
    (from, body) => window.webChat.state.chatboxes.get(from)?.messages?.findWhere({ body }),
    { timeout: WAIT },
    `alice@${DOMAIN}`,
    body,
  );
  // Bob's client acknowledged it: alice's copy is marked received.
  await alice.page.waitForFunction(
    (to, body) => window.webChat.state.chatboxes.get(to)?.messages?.findWhere({ body })?.get("received"),
    { timeout: WAIT },
    `bob@${DOMAIN}`,
    body,
  );
  await bob.page.evaluate((from) => window.webChat.api.chats.open(from), `alice@${DOMAIN}`);
  await bob.page.waitForFunction((body) => document.body.innerText.includes(body), { timeout: WAIT }, body);

  // Group chat in group-<uuid>@conference.<domain>, nicknames alice and bob.
  const room = `group-${randomUUID()}@conference.${DOMAIN}`;
  for (const { page, user } of [alice, bob]) {
    await page.evaluate((room, nick) => window.webChat.api.rooms.open(room, { nick }), room, user);
    await page.waitForFunction(
      (room) => window.webChat.state.chatboxes.get(room)?.session?.get("connection_status") === 5,
      { timeout: WAIT },
      room,
    );
  }
  // Presence: each sees the other online in the room.
  for (const [{ page }, other] of [[alice, "bob"], [bob, "alice"]]) {
    await page.waitForFunction(
      (room, nick) => {
        const occupant = window.webChat.state.chatboxes.get(room).occupants.findWhere({ nick });
        return occupant && (occupant.get("show") ?? "online") === "online";
      },
      { timeout: WAIT },
      room,
      other,
    );
  }
  for (const [from, to] of [[alice, bob], [bob, alice]]) {
    const text = `${from.user} says hi to the room`;
    await from.page.evaluate(async (room, text) => {
      await window.webChat.state.chatboxes.get(room).sendMessage({ body: text });
    }, room, text);
    const sender = await to.page.waitForFunction(
      (room, text) => window.webChat.state.chatboxes.get(room).messages.findWhere({ body: text })?.get("from"),
      { timeout: WAIT },
      room,
      text,
    );
    assert.equal(await sender.jsonValue(), `${room}/${from.user}`);
    // On screen too, once the room is the chat in view.
    await to.page.evaluate((room) => window.webChat.api.rooms.open(room, {}, true), room);
    await to.page.waitForFunction((text) => document.body.innerText.includes(text), { timeout: WAIT }, text);
  }

  for (const { page, user } of [alice, bob]) {
    await page.screenshot({ path: join(SHOTS, `${user}.png`) });
  }
});
