// The served AsyncAPI document (GET /asyncapi.json and /asyncapi.yaml) validated with the
// official parser, @asyncapi/parser: no error, and the operations of the WebSocket chat seed.
// Started by interop/run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const BASE = `http://${process.env.INTEROP_HOST}:${process.env.INTEROP_HTTP_PORT}`;

async function parsed(path) {
  const response = await fetch(`${BASE}${path}`);
  assert.equal(response.status, 200);
  const { document, diagnostics } = await new Parser().parse(await response.text());
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  assert.deepEqual(errors.map((d) => `${d.path.join(".")}: ${d.message}`), []);
  assert.ok(document, "the parser returns a document");
  return document;
}

for (const path of ["/asyncapi.json", "/asyncapi.yaml"]) {
  test(`${path} is valid AsyncAPI 3.0 describing the seed's operations`, async () => {
    const document = await parsed(path);
    assert.equal(document.version(), "3.0.0");
    const operations = document.operations().all().map((o) => o.id());
    for (const id of [
      "sendDirectMessage",
      "receiveDirectMessage",
      "sendGroupMessage",
      "receiveGroupMessage",
      "sendPresence",
      "receivePresence",
      "sendMessageWithReceipt",
      "receiveReceipt",
    ]) {
      assert.ok(operations.includes(id), `${id} in ${operations}`);
    }
    const channel = document.channels().get("xmpp");
    assert.equal(channel.address(), "/xmpp-websocket");
    const scheme = document.components().securitySchemes().get("authCookie");
    assert.equal(scheme.type(), "httpApiKey");
    assert.equal(scheme.in(), "cookie");
    assert.equal(scheme.name(), "auth_token");
  });
}
