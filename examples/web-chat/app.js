// The example chat app: converse.js logged in by the auth_token cookie that the app's login
// set (here the development login, login.html). The browser never holds an XMPP password:
// the cookie goes with the WebSocket upgrade, Switchboard checks it (and the page's Origin),
// and the stream logs in with SASL EXTERNAL.
(function () {
  "use strict";

  // Who is logged in: a real app renders this into its page; the development login keeps it
  // in sessionStorage. Without one, log in first.
  const jid = sessionStorage.getItem("web-chat-jid");
  if (!jid) {
    location.replace("login.html");
    return;
  }

  // Same origin as the page, so the cookie and the Origin check both just work.
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";

  // Exposes converse's API to the page, for scripts and the browser test (interop/node).
  converse.plugins.add("web-chat-app", {
    initialize() {
      window.webChat = this._converse;
    },
  });

  converse.initialize({
    authentication: "external",
    jid,
    auto_login: true,
    websocket_url: `${scheme}//${location.host}/xmpp-websocket`,
    // Emoji data, sounds and fonts come from the same origin as the app.
    assets_path: "node_modules/converse.js/dist/",
    // The nickname in group-{uuid} rooms is the username, so messages come from room/username.
    nickname: jid.split("@")[0],
    muc_nickname_from_jid: true,
    // Contacts of this demo accept each other's presence subscriptions.
    auto_subscribe: true,
    allow_logout: false,
    view_mode: "fullscreen",
    discover_connection_methods: false,
    whitelisted_plugins: ["web-chat-app"],
    loglevel: "warn",
  });
})();
