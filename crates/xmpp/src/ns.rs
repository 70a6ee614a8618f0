//! Namespace URIs used across the server, in one place so that a typo is a compile error.

pub const CLIENT: &str = "jabber:client";
pub const STREAM: &str = "http://etherx.jabber.org/streams";
pub const STREAMS_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const ROSTER: &str = "jabber:iq:roster";
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const PING: &str = "urn:xmpp:ping";
pub const VERSION: &str = "jabber:iq:version";
pub const DELAY: &str = "urn:xmpp:delay";
pub const RECEIPTS: &str = "urn:xmpp:receipts";
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations themselves, which nothing may be bound to.
pub const XMLNS: &str = "http://www.w3.org/2000/xmlns/";
pub const COMMANDS: &str = "http://jabber.org/protocol/commands";
pub const DATA_FORMS: &str = "jabber:x:data";
pub const MAM: &str = "urn:xmpp:mam:2";
/// XEP-0313's disco feature for the before-id/after-id/ids fields, flipped pages and metadata.
pub const MAM_EXTENDED: &str = "urn:xmpp:mam:2#extended";
/// XEP-0334 message processing hints (`store`, `no-store`, `no-permanent-store`).
pub const HINTS: &str = "urn:xmpp:hints";
pub const XDATA_VALIDATE: &str = "http://jabber.org/protocol/xdata-validate";
pub const FORWARD: &str = "urn:xmpp:forward:0";
pub const CARBONS: &str = "urn:xmpp:carbons:2";
pub const RSM: &str = "http://jabber.org/protocol/rsm";
pub const STANZA_ID: &str = "urn:xmpp:sid:0";
pub const OCCUPANT_ID: &str = "urn:xmpp:occupant-id:0";
pub const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
pub const MESSAGE_CORRECT: &str = "urn:xmpp:message-correct:0";
pub const REACTIONS: &str = "urn:xmpp:reactions:0";
pub const REPLY: &str = "urn:xmpp:reply:0";
pub const ATTACHING: &str = "urn:xmpp:message-attaching:1";
pub const FALLBACK: &str = "urn:xmpp:fallback:0";
pub const REFERENCE: &str = "urn:xmpp:reference:0";
pub const CHAT_MARKERS: &str = "urn:xmpp:chat-markers:0";
pub const EME: &str = "urn:xmpp:eme:0";
pub const CONFERENCE: &str = "jabber:x:conference";
pub const CAPS: &str = "http://jabber.org/protocol/caps";
pub const MUC: &str = "http://jabber.org/protocol/muc";
pub const VCARD_UPDATE: &str = "vcard-temp:x:update";
pub const IDLE: &str = "urn:xmpp:idle:1";
pub const NICK: &str = "http://jabber.org/protocol/nick";
pub const JSON_MSG: &str = "urn:xmpp:json-msg:0";
pub const XHTML_IM: &str = "http://jabber.org/protocol/xhtml-im";
pub const XHTML: &str = "http://www.w3.org/1999/xhtml";
pub const OOB: &str = "jabber:x:oob";
pub const IQ_OOB: &str = "jabber:iq:oob";
pub const LAST: &str = "jabber:iq:last";
pub const STATS: &str = "http://jabber.org/protocol/stats";
pub const EXTDISCO: &str = "urn:xmpp:extdisco:2";
pub const HTTP_UPLOAD: &str = "urn:xmpp:http:upload:0";
pub const GATEWAY: &str = "jabber:iq:gateway";
pub const REGISTER: &str = "jabber:iq:register";
pub const BLOCKING: &str = "urn:xmpp:blocking";
pub const BLOCKING_ERRORS: &str = "urn:xmpp:blocking:errors";
pub const REPORTING: &str = "urn:xmpp:reporting:1";
/// XEP-0160's disco feature for offline storage (a feature name rather than a namespace).
pub const MSGOFFLINE: &str = "msgoffline";
/// XEP-0237 roster versioning, as a stream feature.
pub const ROSTER_VER: &str = "urn:xmpp:features:rosterver";
/// End-to-end encrypted payloads that carry no `<body/>`: OMEMO (legacy and XEP-0384 v0.8),
/// OpenPGP for XMPP (XEP-0373) and legacy OpenPGP (XEP-0027).
pub const OMEMO_LEGACY: &str = "eu.siacs.conversations.axolotl";
pub const OMEMO: &str = "urn:xmpp:omemo:2";
pub const OPENPGP: &str = "urn:xmpp:openpgp:0";
pub const PGP_ENCRYPTED: &str = "jabber:x:encrypted";
pub const SM: &str = "urn:xmpp:sm:3";
/// XEP-0060 publish-subscribe, as XEP-0163 PEP serves it on each account.
pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
pub const PUBSUB_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";
pub const PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
pub const PUBSUB_ERRORS: &str = "http://jabber.org/protocol/pubsub#errors";
/// FORM_TYPE of node configuration forms and of publish-options (XEP-0060 §16.4).
pub const PUBSUB_NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
pub const PUBSUB_PUBLISH_OPTIONS: &str = "http://jabber.org/protocol/pubsub#publish-options";
/// XEP-0054 vCard-temp and XEP-0398's conversion feature.
pub const VCARD: &str = "vcard-temp";
pub const PEP_VCARD_CONVERSION: &str = "urn:xmpp:pep-vcard-conversion:0";
/// XEP-0084 user avatar nodes.
pub const AVATAR_DATA: &str = "urn:xmpp:avatar:data";
pub const AVATAR_METADATA: &str = "urn:xmpp:avatar:metadata";
/// XEP-0049 private XML storage.
pub const PRIVATE: &str = "jabber:iq:private";
/// XEP-0048 bookmarks (in private storage) and XEP-0402 bookmarks (a PEP node).
pub const BOOKMARKS: &str = "storage:bookmarks";
pub const BOOKMARKS2: &str = "urn:xmpp:bookmarks:1";
/// XEP-0402 §5: the server keeps XEP-0048 private storage and the PEP node in step.
pub const BOOKMARKS2_COMPAT: &str = "urn:xmpp:bookmarks:1#compat";
pub const CSI: &str = "urn:xmpp:csi:0";
/// XEP-0227: portable import/export of server data, and its SCRAM credentials extension.
pub const PIE: &str = "urn:xmpp:pie:0";
pub const PIE_SCRAM: &str = "urn:xmpp:pie:0#scram";
pub const PIE_MAM: &str = "urn:xmpp:pie:0#mam";
/// XInclude, with which ejabberd's `export_piefxis` splits a file per host.
pub const XINCLUDE: &str = "http://www.w3.org/2001/XInclude";
/// XEP-0357 push notifications.
pub const PUSH: &str = "urn:xmpp:push:0";
/// XEP-0045 multi-user chat: occupants' presence and messages, administration, ownership.
pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// FORM_TYPE of the room configuration form (XEP-0045 §10.2) and of room information (§15.5.4).
pub const MUC_ROOMCONFIG: &str = "http://jabber.org/protocol/muc#roomconfig";
pub const MUC_ROOMINFO: &str = "http://jabber.org/protocol/muc#roominfo";
/// FORM_TYPE of the nickname registration form (XEP-0045 §7.10).
pub const MUC_REGISTER: &str = "http://jabber.org/protocol/muc#register";
/// XEP-0045 §10.1.4: a room name the service guarantees unused.
pub const MUC_UNIQUE: &str = "http://jabber.org/protocol/muc#unique";
/// XEP-0410: the service answers pings to an occupant's own JID.
pub const MUC_SELF_PING: &str = "http://jabber.org/protocol/muc#self-ping-optimization";
