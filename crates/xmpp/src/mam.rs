//! XEP-0313 archives as values: queries (data form, XEP-0059 page), results and `<fin/>`,
//! XEP-0441 preferences, XEP-0359 stanza-ids, and which messages an archive takes.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use jid::{BareJid, Jid};
use minidom::Element;
use serde::{Deserialize, Serialize};
use xmpp_parsers::data_forms::DataFormType;
use xmpp_parsers::mam::Query as WireQuery;
use xmpp_parsers::mam_prefs::{DefaultPrefs, Prefs as WirePrefs};

use crate::ns;
use crate::stanza::{self, DefinedCondition, ErrorType};

/// Where a page starts (XEP-0059 `after`/`before`, XEP-0313 §4.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Anchor {
    /// The oldest matching messages (no RSM anchor).
    #[default]
    First,
    /// The oldest messages after this archive id (`<after>id</after>`).
    After(String),
    /// The newest matching messages (an empty `<before/>`).
    Last,
    /// The newest messages before this archive id (`<before>id</before>`).
    Before(String),
}

impl Anchor {
    /// Whether the page is taken from the newest end.
    pub fn is_backward(&self) -> bool {
        matches!(self, Anchor::Last | Anchor::Before(_))
    }
}

/// An archive query: the form's filters, the page and how it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Echoed in every result so that the client can match them to its query.
    pub queryid: Option<String>,
    /// The other party: a bare JID matches every resource, a full JID only itself.
    pub with: Option<Jid>,
    /// Only messages archived at or after this instant.
    pub start: Option<DateTime<Utc>>,
    /// Only messages archived at or before this instant.
    pub end: Option<DateTime<Utc>>,
    /// Only messages after this archive id (`urn:xmpp:mam:2#extended`).
    pub after_id: Option<String>,
    /// Only messages before this archive id (`urn:xmpp:mam:2#extended`).
    pub before_id: Option<String>,
    /// Only these archive ids (`urn:xmpp:mam:2#extended`); empty means no such filter.
    pub ids: Vec<String>,
    /// The RSM page size the client asked for.
    pub max: Option<usize>,
    pub anchor: Anchor,
    /// Send the page newest first (`<flip-page/>`).
    pub flip: bool,
}

/// Why a query cannot be run; [`QueryError::condition`] gives the stanza error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("malformed query: {0}")]
    Malformed(String),
    #[error("the form's FORM_TYPE is not urn:xmpp:mam:2")]
    FormType,
    #[error("unsupported query field '{0}'")]
    UnknownField(String),
    #[error("field '{field}' {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("'with' is not a valid JID")]
    BadJid,
    #[error("RSM <index/> is not supported: page with <after/> or <before/>")]
    Index,
    #[error("RSM <after/> and <before/> together are undefined: use after-id and before-id")]
    BothAnchors,
    #[error("only user archives are served here, not pubsub nodes")]
    Node,
}

impl QueryError {
    /// The stanza error a query refused this way is answered with (XEP-0313 §4.1.5: an
    /// unrecognised field is `feature-not-implemented`).
    pub fn condition(&self) -> (ErrorType, DefinedCondition) {
        match self {
            QueryError::UnknownField(_) | QueryError::Index | QueryError::Node => {
                (ErrorType::Cancel, DefinedCondition::FeatureNotImplemented)
            }
            QueryError::BadJid => (ErrorType::Modify, DefinedCondition::JidMalformed),
            QueryError::Malformed(_)
            | QueryError::FormType
            | QueryError::BadField { .. }
            | QueryError::BothAnchors => (ErrorType::Modify, DefinedCondition::BadRequest),
        }
    }
}

/// The single value of a text-single field; `None` when it has none.
fn single(field: &'static str, values: &[String]) -> Result<Option<String>, QueryError> {
    match values {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(QueryError::BadField {
            field,
            reason: "has more than one value".into(),
        }),
    }
}

/// A XEP-0082 DateTime (any offset), as UTC.
fn timestamp(field: &'static str, value: &str) -> Result<DateTime<Utc>, QueryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| QueryError::BadField {
            field,
            reason: format!("is not a XEP-0082 timestamp: {e}"),
        })
}

impl Query {
    /// Parses a `<query xmlns='urn:xmpp:mam:2'/>` of an iq set.
    pub fn parse(el: &Element) -> Result<Query, QueryError> {
        let wire =
            WireQuery::try_from(el.clone()).map_err(|e| QueryError::Malformed(e.to_string()))?;
        if wire.node.is_some() {
            return Err(QueryError::Node);
        }
        let mut query = Query {
            queryid: wire.queryid.map(|q| q.0),
            flip: wire.flip_page,
            ..Query::default()
        };
        if let Some(form) = wire.form {
            if form.type_ != DataFormType::Submit || form.form_type() != Some(ns::MAM) {
                return Err(QueryError::FormType);
            }
            for field in &form.fields {
                let values = &field.values;
                match field.var.as_deref().unwrap_or_default() {
                    "FORM_TYPE" => {}
                    "with" => {
                        query.with = single("with", values)?
                            .map(|v| Jid::new(&v).map_err(|_| QueryError::BadJid))
                            .transpose()?;
                    }
                    "start" => {
                        query.start = single("start", values)?
                            .map(|v| timestamp("start", &v))
                            .transpose()?;
                    }
                    "end" => {
                        query.end = single("end", values)?
                            .map(|v| timestamp("end", &v))
                            .transpose()?;
                    }
                    "after-id" => query.after_id = single("after-id", values)?,
                    "before-id" => query.before_id = single("before-id", values)?,
                    "ids" => query.ids = values.clone(),
                    other => return Err(QueryError::UnknownField(other.to_owned())),
                }
            }
        }
        if let Some(set) = wire.set {
            if set.index.is_some() {
                return Err(QueryError::Index);
            }
            query.max = set.max;
            query.anchor = match (set.after, set.before) {
                (Some(_), Some(_)) => return Err(QueryError::BothAnchors),
                (Some(after), None) if !after.is_empty() => Anchor::After(after),
                (_, Some(before)) if before.is_empty() => Anchor::Last,
                (_, Some(before)) => Anchor::Before(before),
                _ => Anchor::First,
            };
        }
        Ok(query)
    }
}

/// The answer to an iq get of the query element: every field a query may use (XEP-0313
/// §4.1.5), none of them required.
pub fn query_form() -> Element {
    let field = |var: &str, type_: &str| {
        Element::builder("field", ns::DATA_FORMS)
            .attr(name("var"), var)
            .attr(name("type"), type_)
    };
    // XEP-0122: the ids are open to any value, there is no list of options to offer.
    let open_list = Element::builder("validate", ns::XDATA_VALIDATE)
        .attr(name("datatype"), "xs:string")
        .append(Element::bare("open", ns::XDATA_VALIDATE))
        .build();
    let form = Element::builder("x", ns::DATA_FORMS)
        .attr(name("type"), "form")
        .append(
            field("FORM_TYPE", "hidden")
                .append(
                    Element::builder("value", ns::DATA_FORMS)
                        .append(ns::MAM)
                        .build(),
                )
                .build(),
        )
        .append(field("with", "jid-single").build())
        .append(field("start", "text-single").build())
        .append(field("end", "text-single").build())
        .append(field("before-id", "text-single").build())
        .append(field("after-id", "text-single").build())
        .append(field("ids", "list-multi").append(open_list).build())
        .build();
    Element::builder("query", ns::MAM).append(form).build()
}

/// A XEP-0082 DateTime in UTC with microseconds, the precision of the archive.
pub fn stamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One archived message as the archive hands it out.
#[derive(Clone, Debug, PartialEq)]
pub struct Item<'a> {
    /// Its archive id.
    pub id: &'a str,
    /// When it was archived.
    pub at: DateTime<Utc>,
    /// The message as it was archived.
    pub message: Element,
}

/// A result message: `item` forwarded (XEP-0297) with its archive time, from the archive
/// (`from`) to the querying resource (`to`).
pub fn result(to: &str, from: &str, queryid: Option<&str>, item: Item<'_>) -> Element {
    let forwarded = Element::builder("forwarded", ns::FORWARD)
        .append(stanza::delay(from, &stamp(&item.at)))
        .append(item.message)
        .build();
    let mut result = Element::builder("result", ns::MAM)
        .attr(name("id"), item.id)
        .append(forwarded)
        .build();
    if let Some(queryid) = queryid {
        stanza::set_attr(&mut result, "queryid", queryid);
    }
    Element::builder("message", ns::CLIENT)
        .attr(name("to"), to)
        .attr(name("from"), from)
        .append(result)
        .build()
}

/// The first and last archive ids of a page, and how many matching messages come before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageBounds<'a> {
    pub first: &'a str,
    pub first_index: Option<u64>,
    pub last: &'a str,
}

/// The `<fin/>` closing a query (XEP-0313 §4.3, XEP-0059 §2): `complete` when the page reaches
/// the end of the matching messages in its direction.
pub fn fin(complete: bool, bounds: Option<PageBounds<'_>>, count: Option<u64>) -> Element {
    let mut set = Element::bare("set", ns::RSM);
    if let Some(bounds) = bounds {
        let mut first = Element::builder("first", ns::RSM)
            .append(bounds.first)
            .build();
        if let Some(index) = bounds.first_index {
            stanza::set_attr(&mut first, "index", &index.to_string());
        }
        set.append_child(first);
        set.append_child(
            Element::builder("last", ns::RSM)
                .append(bounds.last)
                .build(),
        );
    }
    if let Some(count) = count {
        set.append_child(
            Element::builder("count", ns::RSM)
                .append(count.to_string())
                .build(),
        );
    }
    Element::builder("fin", ns::MAM)
        .attr(name("complete"), if complete { "true" } else { "false" })
        .append(set)
        .build()
}

/// One end of an archive: a message's id and archive time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge<'a> {
    pub id: &'a str,
    pub at: DateTime<Utc>,
}

/// The archive's first and last messages (XEP-0313 §5, `<metadata/>`); both absent when the
/// archive is empty.
pub fn metadata(ends: Option<(Edge<'_>, Edge<'_>)>) -> Element {
    let mut el = Element::bare("metadata", ns::MAM);
    if let Some((first, last)) = ends {
        for (tag, edge) in [("start", first), ("end", last)] {
            el.append_child(
                Element::builder(tag, ns::MAM)
                    .attr(name("id"), edge.id)
                    .attr(name("timestamp"), stamp(&edge.at))
                    .build(),
            );
        }
    }
    el
}

/// What is archived for JIDs in neither preference list (XEP-0441 §2.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Every message.
    #[default]
    Always,
    /// Messages with contacts in the roster only.
    Roster,
    /// No message.
    Never,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Always => "always",
            Policy::Roster => "roster",
            Policy::Never => "never",
        }
    }
}

impl FromStr for Policy {
    type Err = PrefsError;

    fn from_str(s: &str) -> Result<Policy, PrefsError> {
        match s {
            "always" => Ok(Policy::Always),
            "roster" => Ok(Policy::Roster),
            "never" => Ok(Policy::Never),
            other => Err(PrefsError::Policy(other.to_owned())),
        }
    }
}

impl From<DefaultPrefs> for Policy {
    fn from(wire: DefaultPrefs) -> Policy {
        match wire {
            DefaultPrefs::Always => Policy::Always,
            DefaultPrefs::Roster => Policy::Roster,
            DefaultPrefs::Never => Policy::Never,
        }
    }
}

impl From<Policy> for DefaultPrefs {
    fn from(policy: Policy) -> DefaultPrefs {
        match policy {
            Policy::Always => DefaultPrefs::Always,
            Policy::Roster => DefaultPrefs::Roster,
            Policy::Never => DefaultPrefs::Never,
        }
    }
}

/// JIDs listed in one preference list at most; a longer list is refused.
pub const MAX_PREFS_JIDS: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefsError {
    #[error("malformed preferences: {0}")]
    Malformed(String),
    #[error("unknown default policy '{0}'")]
    Policy(String),
    #[error("a preference list holds at most {MAX_PREFS_JIDS} JIDs")]
    TooMany,
}

/// A user's archiving preferences (XEP-0441).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prefs {
    pub default: Policy,
    pub always: Vec<Jid>,
    pub never: Vec<Jid>,
}

/// Whether a listed JID covers `target` (XEP-0441 §2.3.1): a bare entry matches every
/// resource, a full entry only itself.
fn covers(listed: &Jid, target: &Jid) -> bool {
    if listed.resource().is_some() {
        listed == target
    } else {
        listed.to_bare() == target.to_bare()
    }
}

impl Prefs {
    /// Parses the `<prefs/>` of an iq set.
    pub fn parse(el: &Element) -> Result<Prefs, PrefsError> {
        let wire =
            WirePrefs::try_from(el.clone()).map_err(|e| PrefsError::Malformed(e.to_string()))?;
        if wire.always.len() > MAX_PREFS_JIDS || wire.never.len() > MAX_PREFS_JIDS {
            return Err(PrefsError::TooMany);
        }
        Ok(Prefs {
            default: wire.default_.into(),
            always: wire.always,
            never: wire.never,
        })
    }

    /// The `<prefs/>` element, both lists present even when empty.
    pub fn to_element(&self) -> Element {
        let list = |tag: &str, jids: &[Jid]| {
            let mut el = Element::bare(tag, ns::MAM);
            for jid in jids {
                el.append_child(
                    Element::builder("jid", ns::MAM)
                        .append(jid.as_str())
                        .build(),
                );
            }
            el
        };
        Element::builder("prefs", ns::MAM)
            .attr(name("default"), self.default.as_str())
            .append(list("always", &self.always))
            .append(list("never", &self.never))
            .build()
    }

    /// The explicit rule for messages with `target`: `Some(false)` when a `never` entry covers
    /// it (never wins over always), `Some(true)` for an `always` entry, `None` when the default
    /// decides.
    pub fn rule_for(&self, target: &Jid) -> Option<bool> {
        if self.never.iter().any(|l| covers(l, target)) {
            Some(false)
        } else if self.always.iter().any(|l| covers(l, target)) {
            Some(true)
        } else {
            None
        }
    }
}

/// Whether `message` is conversation worth archiving (XEP-0313 §6.1.1): a `chat` or `normal`
/// message with a body, or — when `receipts_and_markers` — one carrying a XEP-0184 receipt or
/// a XEP-0333 marker. XEP-0334 hints decide first; copies the server made (carbons, archive
/// results) never are.
pub fn archivable(message: &Element, receipts_and_markers: bool) -> bool {
    if !message.is("message", ns::CLIENT)
        || !matches!(message.attr("type"), None | Some("normal" | "chat"))
        || message.has_child("result", ns::MAM)
        || message.has_child("sent", xmpp_parsers::ns::CARBONS)
        || message.has_child("received", xmpp_parsers::ns::CARBONS)
        || message.has_child("no-store", ns::HINTS)
        || message.has_child("no-permanent-store", ns::HINTS)
    {
        return false;
    }
    if message.has_child("body", ns::CLIENT) || message.has_child("store", ns::HINTS) {
        return true;
    }
    receipts_and_markers
        && (message.has_child("received", ns::RECEIPTS)
            || ["received", "displayed", "acknowledged"]
                .iter()
                .any(|marker| message.has_child(marker, ns::CHAT_MARKERS)))
}

/// The XEP-0359 `<stanza-id/>` telling the recipient where and under which id the message is
/// archived.
pub fn stanza_id(by: &BareJid, id: &str) -> Element {
    Element::builder("stanza-id", ns::STANZA_ID)
        .attr(name("id"), id)
        .attr(name("by"), by.as_str())
        .build()
}

/// Removes every `<stanza-id/>` claiming to come from `by` (XEP-0359 §4: only the archive
/// itself may say where it stored a message).
pub fn strip_stanza_ids(message: &mut Element, by: &BareJid) {
    let claims = |child: &Element| {
        child.is("stanza-id", ns::STANZA_ID)
            && child
                .attr("by")
                .and_then(|b| Jid::new(b).ok())
                .is_some_and(|b| b.resource().is_none() && b.to_bare() == *by)
    };
    if !message.children().any(claims) {
        return;
    }
    for node in message.take_nodes() {
        match node {
            minidom::Node::Element(child) if claims(&child) => {}
            node => {
                message.append_node(node);
            }
        }
    }
}

fn name(attr: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(attr).expect("attribute names used here are valid NCNames")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn query(form_fields: &str, set: &str) -> Result<Query, QueryError> {
        Query::parse(&parse(&format!(
            "<query xmlns='urn:xmpp:mam:2' queryid='q1'>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>\
             {form_fields}</x>{set}</query>"
        )))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_field_and_the_page_are_read() {
        let q = query(
            "<field var='with'><value>Juliet@Capulet.lit/balcony</value></field>\
             <field var='start'><value>2010-06-07T00:00:00Z</value></field>\
             <field var='end'><value>2010-07-07T15:23:54+02:00</value></field>\
             <field var='after-id'><value>a1</value></field>\
             <field var='before-id'><value>b1</value></field>\
             <field var='ids'><value>x</value><value>y</value></field>",
            "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>p</after></set><flip-page/>",
        )
        .unwrap();
        assert_eq!(
            q,
            Query {
                queryid: Some("q1".into()),
                with: Some(Jid::new("juliet@capulet.lit/balcony").unwrap()),
                start: Some(at("2010-06-07T00:00:00Z")),
                end: Some(at("2010-07-07T13:23:54Z")),
                after_id: Some("a1".into()),
                before_id: Some("b1".into()),
                ids: vec!["x".into(), "y".into()],
                max: Some(10),
                anchor: Anchor::After("p".into()),
                flip: true,
            }
        );
    }

    #[test]
    fn a_bare_query_asks_for_everything_from_the_start() {
        let q = Query::parse(&parse("<query xmlns='urn:xmpp:mam:2'/>")).unwrap();
        assert_eq!(q, Query::default());
    }

    #[test]
    fn empty_before_is_the_last_page() {
        let rsm = |inner: &str| {
            query(
                "",
                &format!("<set xmlns='http://jabber.org/protocol/rsm'>{inner}</set>"),
            )
            .unwrap()
            .anchor
        };
        assert_eq!(rsm("<before/>"), Anchor::Last);
        assert_eq!(rsm("<before>b</before>"), Anchor::Before("b".into()));
        assert_eq!(rsm("<max>5</max>"), Anchor::First);
        assert!(Anchor::Last.is_backward() && !Anchor::After("a".into()).is_backward());
    }

    #[test]
    fn refusals_name_their_reason() {
        let cond = |r: Result<Query, QueryError>| r.unwrap_err().condition().1;
        assert_eq!(
            cond(query(
                "<field var='include-groupchat'><value>true</value></field>",
                ""
            )),
            DefinedCondition::FeatureNotImplemented
        );
        assert_eq!(
            cond(query("<field var='with'><value>a@@b</value></field>", "")),
            DefinedCondition::JidMalformed
        );
        assert_eq!(
            cond(query(
                "<field var='start'><value>yesterday</value></field>",
                ""
            )),
            DefinedCondition::BadRequest
        );
        assert_eq!(
            cond(query(
                "<field var='with'><value>a@b</value><value>c@d</value></field>",
                ""
            )),
            DefinedCondition::BadRequest
        );
        assert_eq!(
            cond(query(
                "",
                "<set xmlns='http://jabber.org/protocol/rsm'><after>a</after><before>b</before></set>"
            )),
            DefinedCondition::BadRequest
        );
        assert_eq!(
            cond(query(
                "",
                "<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>"
            )),
            DefinedCondition::FeatureNotImplemented
        );
        assert_eq!(
            cond(query(
                "",
                "<set xmlns='http://jabber.org/protocol/rsm'><max>many</max></set>"
            )),
            DefinedCondition::BadRequest
        );
        let other_form = Query::parse(&parse(
            "<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'><value>urn:other</value></field></x></query>",
        ));
        assert_eq!(other_form, Err(QueryError::FormType));
        let node = Query::parse(&parse("<query xmlns='urn:xmpp:mam:2' node='n'/>"));
        assert_eq!(node, Err(QueryError::Node));
    }

    #[test]
    fn the_form_offers_the_extended_fields() {
        let form = query_form();
        let x = form.get_child("x", ns::DATA_FORMS).unwrap();
        let vars: Vec<&str> = x.children().filter_map(|f| f.attr("var")).collect();
        assert_eq!(
            vars,
            [
                "FORM_TYPE",
                "with",
                "start",
                "end",
                "before-id",
                "after-id",
                "ids"
            ]
        );
        assert!(!stanza::to_xml(&form).contains("required"));
        let ids = x.children().find(|f| f.attr("var") == Some("ids")).unwrap();
        assert!(ids.has_child("validate", ns::XDATA_VALIDATE));
    }

    #[test]
    fn results_forward_with_microsecond_stamps() {
        let message = parse(
            "<message xmlns='jabber:client' from='a@b/c' to='d@b' type='chat'><body>hi</body></message>",
        );
        let el = result(
            "d@b/r",
            "d@b",
            Some("q1"),
            Item {
                id: "id1",
                at: at("2024-01-02T03:04:05.123456Z"),
                message: message.clone(),
            },
        );
        let expected = parse(
            "<message xmlns='jabber:client' to='d@b/r' from='d@b'>\
             <result xmlns='urn:xmpp:mam:2' id='id1' queryid='q1'>\
             <forwarded xmlns='urn:xmpp:forward:0'>\
             <delay xmlns='urn:xmpp:delay' from='d@b' stamp='2024-01-02T03:04:05.123456Z'/>\
             <message xmlns='jabber:client' from='a@b/c' to='d@b' type='chat'><body>hi</body></message>\
             </forwarded></result></message>",
        );
        assert_eq!(el, expected);
        // The typed parser of the xmpp-parsers crate reads it back.
        let typed =
            xmpp_parsers::mam::Result_::try_from(el.get_child("result", ns::MAM).unwrap().clone())
                .unwrap();
        assert_eq!(typed.id, "id1");
    }

    #[test]
    fn fin_carries_the_page() {
        let el = fin(
            false,
            Some(PageBounds {
                first: "a",
                first_index: Some(3),
                last: "b",
            }),
            Some(20),
        );
        assert_eq!(
            el,
            parse(
                "<fin xmlns='urn:xmpp:mam:2' complete='false'><set xmlns='http://jabber.org/protocol/rsm'>\
                 <first index='3'>a</first><last>b</last><count>20</count></set></fin>"
            )
        );
        let empty = fin(true, None, Some(0));
        assert_eq!(
            empty,
            parse(
                "<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'>\
                 <count>0</count></set></fin>"
            )
        );
        let typed = xmpp_parsers::mam::Fin::try_from(el).unwrap();
        assert_eq!(typed.set.count, Some(20));
    }

    #[test]
    fn metadata_names_both_ends() {
        let t = at("2020-04-20T14:34:21Z");
        assert_eq!(
            metadata(Some((Edge { id: "a", at: t }, Edge { id: "z", at: t }))),
            parse(
                "<metadata xmlns='urn:xmpp:mam:2'>\
                 <start id='a' timestamp='2020-04-20T14:34:21.000000Z'/>\
                 <end id='z' timestamp='2020-04-20T14:34:21.000000Z'/></metadata>"
            )
        );
        assert_eq!(metadata(None), parse("<metadata xmlns='urn:xmpp:mam:2'/>"));
    }

    #[test]
    fn prefs_round_trip_and_match() {
        let el = parse(
            "<prefs xmlns='urn:xmpp:mam:2' default='roster'>\
             <always><jid>romeo@montague.lit</jid></always>\
             <never><jid>montague@montague.lit</jid><jid>romeo@montague.lit/orchard</jid></never></prefs>",
        );
        let prefs = Prefs::parse(&el).unwrap();
        assert_eq!(prefs.default, Policy::Roster);
        assert_eq!(Prefs::parse(&prefs.to_element()).unwrap(), prefs);
        let jid = |s: &str| Jid::new(s).unwrap();
        assert_eq!(
            prefs.rule_for(&jid("romeo@montague.lit/balcony")),
            Some(true)
        );
        assert_eq!(
            prefs.rule_for(&jid("romeo@montague.lit/orchard")),
            Some(false)
        );
        assert_eq!(prefs.rule_for(&jid("montague@montague.lit/x")), Some(false));
        assert_eq!(prefs.rule_for(&jid("juliet@capulet.lit")), None);

        let empty = Prefs::default().to_element();
        assert_eq!(
            empty,
            parse("<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs>")
        );
        assert!(
            Prefs::parse(&parse(
                "<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>"
            ))
            .is_err()
        );
        let many: String = (0..=MAX_PREFS_JIDS)
            .map(|i| format!("<jid>u{i}@x</jid>"))
            .collect();
        let too_many = parse(&format!(
            "<prefs xmlns='urn:xmpp:mam:2' default='always'><always>{many}</always></prefs>"
        ));
        assert_eq!(Prefs::parse(&too_many), Err(PrefsError::TooMany));
        assert_eq!("never".parse::<Policy>(), Ok(Policy::Never));
    }

    #[test]
    fn what_is_archived() {
        let yes = |xml: &str, markers: bool| archivable(&parse(xml), markers);
        assert!(yes(
            "<message xmlns='jabber:client' type='chat'><body>x</body></message>",
            false
        ));
        assert!(yes(
            "<message xmlns='jabber:client'><body>x</body></message>",
            false
        ));
        for type_ in ["groupchat", "error", "headline"] {
            assert!(!yes(
                &format!("<message xmlns='jabber:client' type='{type_}'><body>x</body></message>"),
                true
            ));
        }
        let receipt = "<message xmlns='jabber:client' type='chat'><received xmlns='urn:xmpp:receipts' id='1'/></message>";
        assert!(yes(receipt, true));
        assert!(!yes(receipt, false));
        let marker = "<message xmlns='jabber:client'><displayed xmlns='urn:xmpp:chat-markers:0' id='1'/></message>";
        assert!(yes(marker, true));
        let state = "<message xmlns='jabber:client' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>";
        assert!(!yes(state, true));
        assert!(!yes(
            "<message xmlns='jabber:client'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>",
            true
        ));
        assert!(yes(
            "<message xmlns='jabber:client'><store xmlns='urn:xmpp:hints'/><x xmlns='urn:y'/></message>",
            false
        ));
        assert!(!yes(
            "<message xmlns='jabber:client'><received xmlns='urn:xmpp:carbons:2'/><body>x</body></message>",
            true
        ));
        assert!(!yes(
            "<presence xmlns='jabber:client'><body>x</body></presence>",
            true
        ));
    }

    #[test]
    fn only_the_archive_may_claim_a_stanza_id() {
        let mut message = parse(
            "<message xmlns='jabber:client'><body>x</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='Juliet@capulet.lit' id='forged'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='capulet.lit' id='other'/></message>",
        );
        let juliet = BareJid::new("juliet@capulet.lit").unwrap();
        strip_stanza_ids(&mut message, &juliet);
        message.append_child(stanza_id(&juliet, "real"));
        let ids: Vec<(&str, &str)> = message
            .children()
            .filter(|c| c.is("stanza-id", ns::STANZA_ID))
            .map(|c| (c.attr("by").unwrap(), c.attr("id").unwrap()))
            .collect();
        assert_eq!(
            ids,
            [("capulet.lit", "other"), ("juliet@capulet.lit", "real")]
        );
        assert!(message.has_child("body", ns::CLIENT));
    }
}
