//! XEP-0163 personal eventing over XEP-0060 (v1.26): the pubsub requests an account's PEP
//! service takes, node configuration and publish-options forms, and the stanzas it answers with.

use std::collections::BTreeMap;

use minidom::Element;

use crate::ns;
use crate::stanza::{self, DefinedCondition, ErrorType};

/// Who may retrieve a node's items and receive its notifications (XEP-0060 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessModel {
    /// Any entity.
    Open,
    /// Contacts with a presence subscription to the owner (PEP's default, XEP-0163 §4.1).
    Presence,
    /// The owner only.
    Whitelist,
}

impl AccessModel {
    pub fn parse(value: &str) -> Option<AccessModel> {
        match value {
            "open" => Some(AccessModel::Open),
            "presence" => Some(AccessModel::Presence),
            "whitelist" => Some(AccessModel::Whitelist),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessModel::Open => "open",
            AccessModel::Presence => "presence",
            AccessModel::Whitelist => "whitelist",
        }
    }
}

/// When the last published item goes to an entity on its own (XEP-0060 §12.20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendLast {
    Never,
    OnSub,
    /// Also when a contact becomes available (XEP-0163 §4.3.3): PEP's default.
    OnSubAndPresence,
}

impl SendLast {
    pub fn parse(value: &str) -> Option<SendLast> {
        match value {
            "never" => Some(SendLast::Never),
            "on_sub" => Some(SendLast::OnSub),
            "on_sub_and_presence" => Some(SendLast::OnSubAndPresence),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SendLast::Never => "never",
            SendLast::OnSub => "on_sub",
            SendLast::OnSubAndPresence => "on_sub_and_presence",
        }
    }
}

/// A node's configuration: the `pubsub#…` options this service implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub access_model: AccessModel,
    pub persist_items: bool,
    /// Items kept, at most the service's limit (`pubsub#max_items`, `max` meaning that limit).
    pub max_items: u32,
    pub send_last: SendLast,
}

impl NodeConfig {
    /// The configuration of a node created without options: XEP-0163 §4.1's presence access,
    /// one item kept (what most PEP nodes hold: the current mood, device list, avatar).
    pub const DEFAULT: NodeConfig = NodeConfig {
        access_model: AccessModel::Presence,
        persist_items: true,
        max_items: 1,
        send_last: SendLast::OnSubAndPresence,
    };

    /// Items actually kept: one for a node that does not persist them (its last item is still
    /// sent to contacts that come online).
    pub fn kept(&self) -> u32 {
        if self.persist_items {
            self.max_items
        } else {
            1
        }
    }

    /// Applies the fields of a submitted configuration or publish-options form.
    pub fn apply(&mut self, form: &Fields, limit: u32) -> Result<(), PepError> {
        for (var, values) in &form.0 {
            let value = values.first().map(String::as_str).unwrap_or_default();
            let bad = || PepError::BadOption(var.clone());
            match var.as_str() {
                "pubsub#access_model" => {
                    self.access_model = AccessModel::parse(value).ok_or_else(bad)?;
                }
                "pubsub#persist_items" => self.persist_items = parse_bool(value).ok_or_else(bad)?,
                "pubsub#max_items" => self.max_items = parse_max(value, limit).ok_or_else(bad)?,
                "pubsub#send_last_published_item" => {
                    self.send_last = SendLast::parse(value).ok_or_else(bad)?;
                }
                _ => return Err(PepError::BadOption(var.clone())),
            }
        }
        Ok(())
    }

    /// XEP-0060 §7.1.5: whether an existing node's configuration meets every precondition of
    /// a publish-options form.
    pub fn meets(&self, options: &Fields, limit: u32) -> bool {
        let mut wanted = *self;
        wanted.apply(options, limit).is_ok() && wanted == *self
    }

    /// The `pubsub#node_config` form (XEP-0060 §8.2) describing this configuration.
    pub fn form(&self) -> Element {
        let mut form = Element::builder("x", ns::DATA_FORMS)
            .attr(name("type"), "form")
            .build();
        form.append_child(field("FORM_TYPE", Some("hidden"), ns::PUBSUB_NODE_CONFIG));
        let mut access = field(
            "pubsub#access_model",
            Some("list-single"),
            self.access_model.as_str(),
        );
        for model in [
            AccessModel::Open,
            AccessModel::Presence,
            AccessModel::Whitelist,
        ] {
            access.append_child(option(model.as_str()));
        }
        form.append_child(access);
        form.append_child(field(
            "pubsub#persist_items",
            Some("boolean"),
            if self.persist_items { "true" } else { "false" },
        ));
        form.append_child(field(
            "pubsub#max_items",
            Some("text-single"),
            &self.max_items.to_string(),
        ));
        let mut send_last = field(
            "pubsub#send_last_published_item",
            Some("list-single"),
            self.send_last.as_str(),
        );
        for when in [SendLast::Never, SendLast::OnSub, SendLast::OnSubAndPresence] {
            send_last.append_child(option(when.as_str()));
        }
        form.append_child(send_last);
        form
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// `max` or a count from 1 to `limit` (XEP-0060 §16.4.3 allows `max` for the service's limit).
fn parse_max(value: &str, limit: u32) -> Option<u32> {
    if value == "max" {
        return Some(limit);
    }
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=limit).contains(n))
}

fn name(attr: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(attr).expect("attribute names used by the server are valid NCNames")
}

fn field(var: &str, type_: Option<&str>, value: &str) -> Element {
    let mut field = Element::builder("field", ns::DATA_FORMS)
        .attr(name("var"), var)
        .build();
    if let Some(type_) = type_ {
        stanza::set_attr(&mut field, "type", type_);
    }
    field.append_child(
        Element::builder("value", ns::DATA_FORMS)
            .append(value)
            .build(),
    );
    field
}

fn option(value: &str) -> Element {
    Element::builder("option", ns::DATA_FORMS)
        .append(
            Element::builder("value", ns::DATA_FORMS)
                .append(value)
                .build(),
        )
        .build()
}

/// The fields of a submitted form other than its FORM_TYPE, by `var`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, Vec<String>>);

impl Fields {
    /// Reads a `jabber:x:data` form of type `submit` whose FORM_TYPE, when present, is
    /// `form_type`.
    pub fn parse(form: &Element, form_type: &str) -> Result<Fields, PepError> {
        if !form.is("x", ns::DATA_FORMS) || form.attr("type") != Some("submit") {
            return Err(PepError::BadRequest("not a submitted data form"));
        }
        let mut fields = BTreeMap::new();
        for f in form.children().filter(|c| c.is("field", ns::DATA_FORMS)) {
            let Some(var) = f.attr("var") else {
                return Err(PepError::BadRequest("a form field without var"));
            };
            let values: Vec<String> = f
                .children()
                .filter(|c| c.is("value", ns::DATA_FORMS))
                .map(Element::text)
                .collect();
            if var == "FORM_TYPE" {
                if values.first().map(String::as_str) != Some(form_type) {
                    return Err(PepError::BadRequest("unexpected FORM_TYPE"));
                }
                continue;
            }
            fields.insert(var.to_owned(), values);
        }
        Ok(Fields(fields))
    }

    /// A form of one field (tests, and the options the server publishes with itself).
    pub fn of(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(var, value)| ((*var).to_owned(), vec![(*value).to_owned()]))
                .collect(),
        )
    }
}

/// A request to an account's PEP service.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Publish one item (§7.1), with the preconditions of publish-options (§7.1.5).
    Publish {
        node: String,
        id: Option<String>,
        payload: Element,
        options: Option<Fields>,
    },
    /// Retract one or more items (§7.2).
    Retract {
        node: String,
        ids: Vec<String>,
        notify: bool,
    },
    /// Retrieve items: all, the most recent `max`, or those named (§6.5).
    Items {
        node: String,
        max: Option<u32>,
        ids: Vec<String>,
    },
    /// Create a node (§8.1), optionally configured.
    Create {
        node: String,
        config: Option<Fields>,
    },
    /// The configuration form of a node (§8.2).
    ConfigureGet { node: String },
    /// A submitted configuration (§8.2.4).
    ConfigureSet { node: String, config: Fields },
    /// Delete a node (§8.4).
    Delete { node: String },
    /// Purge a node's items (§8.5).
    Purge { node: String },
}

impl Request {
    /// Reads the `<pubsub/>` payload of an iq of type `type_` (`get` or `set`).
    pub fn parse(type_: &str, payload: &Element) -> Result<Request, PepError> {
        if payload.is("pubsub", ns::PUBSUB) {
            Self::parse_user(type_, payload)
        } else if payload.is("pubsub", ns::PUBSUB_OWNER) {
            Self::parse_owner(type_, payload)
        } else {
            Err(PepError::BadRequest("not a pubsub request"))
        }
    }

    fn parse_user(type_: &str, pubsub: &Element) -> Result<Request, PepError> {
        let mut children = pubsub.children();
        let first = children
            .next()
            .ok_or(PepError::BadRequest("empty pubsub"))?;
        let node = || node_of(first);
        match (type_, first.name()) {
            ("set", "publish") => {
                let mut items = first.children().filter(|c| c.is("item", ns::PUBSUB));
                let item = items.next().ok_or(PepError::ItemRequired)?;
                if items.next().is_some() {
                    return Err(PepError::BadRequest("one item per publish"));
                }
                let mut payloads = item.children();
                let payload = payloads.next().ok_or(PepError::PayloadRequired)?.clone();
                if payloads.next().is_some() {
                    return Err(PepError::InvalidPayload);
                }
                let options = form_in(
                    children.find(|c| c.is("publish-options", ns::PUBSUB)),
                    ns::PUBSUB_PUBLISH_OPTIONS,
                )?;
                Ok(Request::Publish {
                    node: node()?,
                    id: item.attr("id").filter(|id| !id.is_empty()).map(Into::into),
                    payload,
                    options,
                })
            }
            ("set", "retract") => {
                let ids = item_ids(first);
                if ids.is_empty() {
                    return Err(PepError::ItemRequired);
                }
                let notify = matches!(first.attr("notify"), Some("1" | "true"));
                Ok(Request::Retract {
                    node: node()?,
                    ids,
                    notify,
                })
            }
            ("get", "items") => {
                let max = match first.attr("max_items") {
                    Some(max) => Some(
                        max.parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or(PepError::BadRequest("max_items is not a positive count"))?,
                    ),
                    None => None,
                };
                Ok(Request::Items {
                    node: node()?,
                    max,
                    ids: item_ids(first),
                })
            }
            ("set", "create") => {
                let config = form_in(
                    children.find(|c| c.is("configure", ns::PUBSUB)),
                    ns::PUBSUB_NODE_CONFIG,
                )?;
                Ok(Request::Create {
                    node: node()?,
                    config,
                })
            }
            (_, "subscribe" | "unsubscribe" | "options") => Err(PepError::Unsupported("subscribe")),
            (_, "subscriptions") => Err(PepError::Unsupported("retrieve-subscriptions")),
            (_, "affiliations") => Err(PepError::Unsupported("retrieve-affiliations")),
            (_, "default") => Err(PepError::Unsupported("retrieve-default")),
            _ => Err(PepError::BadRequest("unknown pubsub request")),
        }
    }

    fn parse_owner(type_: &str, pubsub: &Element) -> Result<Request, PepError> {
        let first = pubsub
            .children()
            .next()
            .ok_or(PepError::BadRequest("empty pubsub"))?;
        let node = node_of(first)?;
        match (type_, first.name()) {
            ("get", "configure") => Ok(Request::ConfigureGet { node }),
            ("set", "configure") => {
                let form = first
                    .get_child("x", ns::DATA_FORMS)
                    .ok_or(PepError::BadRequest("configure without a form"))?;
                Ok(Request::ConfigureSet {
                    node,
                    config: Fields::parse(form, ns::PUBSUB_NODE_CONFIG)?,
                })
            }
            ("set", "delete") => Ok(Request::Delete { node }),
            ("set", "purge") => Ok(Request::Purge { node }),
            (_, "subscriptions" | "affiliations") => {
                Err(PepError::Unsupported("modify-affiliations"))
            }
            _ => Err(PepError::BadRequest("unknown pubsub#owner request")),
        }
    }

    /// The node the request is about.
    pub fn node(&self) -> &str {
        match self {
            Request::Publish { node, .. }
            | Request::Retract { node, .. }
            | Request::Items { node, .. }
            | Request::Create { node, .. }
            | Request::ConfigureGet { node }
            | Request::ConfigureSet { node, .. }
            | Request::Delete { node }
            | Request::Purge { node } => node,
        }
    }
}

/// Node names are kept short: clients use namespaces (a few dozen bytes) as names.
pub const MAX_NODE_NAME: usize = 256;
/// Item ids likewise.
pub const MAX_ITEM_ID: usize = 256;

fn node_of(el: &Element) -> Result<String, PepError> {
    match el.attr("node") {
        Some(node) if !node.is_empty() && node.len() <= MAX_NODE_NAME => Ok(node.to_owned()),
        Some(node) if !node.is_empty() => Err(PepError::BadRequest("node name too long")),
        _ => Err(PepError::NodeIdRequired),
    }
}

/// The data form inside `holder` (`<publish-options/>`, `<configure/>`), if both are there.
fn form_in(holder: Option<&Element>, form_type: &str) -> Result<Option<Fields>, PepError> {
    holder
        .and_then(|h| h.get_child("x", ns::DATA_FORMS))
        .map(|form| Fields::parse(form, form_type))
        .transpose()
}

fn item_ids(el: &Element) -> Vec<String> {
    el.children()
        .filter(|c| c.is("item", ns::PUBSUB))
        .filter_map(|c| c.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A stored item: its id and payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: String,
    pub payload: Element,
}

impl Item {
    fn element(&self, namespace: &str, with_payload: bool) -> Element {
        let mut el = Element::builder("item", namespace)
            .attr(name("id"), self.id.as_str())
            .build();
        if with_payload {
            el.append_child(self.payload.clone());
        }
        el
    }
}

/// `<pubsub><items node='…'>…</items></pubsub>`, the answer to an items request (§6.5.2).
pub fn items_result(node: &str, items: &[Item]) -> Element {
    let mut list = Element::builder("items", ns::PUBSUB)
        .attr(name("node"), node)
        .build();
    for item in items {
        list.append_child(item.element(ns::PUBSUB, true));
    }
    Element::builder("pubsub", ns::PUBSUB).append(list).build()
}

/// `<pubsub><publish node='…'><item id='…'/></publish></pubsub>`, the answer to a publish
/// telling the id the item got (§7.1.2).
pub fn publish_result(node: &str, id: &str) -> Element {
    let item = Element::builder("item", ns::PUBSUB)
        .attr(name("id"), id)
        .build();
    let publish = Element::builder("publish", ns::PUBSUB)
        .attr(name("node"), node)
        .append(item)
        .build();
    Element::builder("pubsub", ns::PUBSUB)
        .append(publish)
        .build()
}

/// `<pubsub xmlns='…#owner'><configure node='…'>form</configure></pubsub>` (§8.2.2).
pub fn configure_result(node: &str, config: &NodeConfig) -> Element {
    let configure = Element::builder("configure", ns::PUBSUB_OWNER)
        .attr(name("node"), node)
        .append(config.form())
        .build();
    Element::builder("pubsub", ns::PUBSUB_OWNER)
        .append(configure)
        .build()
}

/// What a notification tells (§7.1.2.1, §7.2.2.1, §8.4.3.1, §8.5.3.1).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Published(Item),
    Retracted(Vec<String>),
    Deleted,
    Purged,
}

/// `<event xmlns='…#event'>` for `node`.
pub fn event(node: &str, event: &Event) -> Element {
    let body = match event {
        Event::Published(item) => Element::builder("items", ns::PUBSUB_EVENT)
            .attr(name("node"), node)
            .append(item.element(ns::PUBSUB_EVENT, true))
            .build(),
        Event::Retracted(ids) => {
            let mut items = Element::builder("items", ns::PUBSUB_EVENT)
                .attr(name("node"), node)
                .build();
            for id in ids {
                items.append_child(
                    Element::builder("retract", ns::PUBSUB_EVENT)
                        .attr(name("id"), id.as_str())
                        .build(),
                );
            }
            items
        }
        Event::Deleted => Element::builder("delete", ns::PUBSUB_EVENT)
            .attr(name("node"), node)
            .build(),
        Event::Purged => Element::builder("purge", ns::PUBSUB_EVENT)
            .attr(name("node"), node)
            .build(),
    };
    Element::builder("event", ns::PUBSUB_EVENT)
        .append(body)
        .build()
}

/// `<message type='headline'>` carrying `event` from `from` to `to`.
pub fn notification(from: &str, to: &str, id: &str, event: Element) -> Element {
    Element::builder("message", ns::CLIENT)
        .attr(name("type"), "headline")
        .attr(name("from"), from)
        .attr(name("to"), to)
        .attr(name("id"), id)
        .append(event)
        .build()
}

/// Why a request is refused, with the XEP-0060 error it is answered with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PepError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("the request names no node")]
    NodeIdRequired,
    #[error("the request names no item")]
    ItemRequired,
    #[error("the item has no payload")]
    PayloadRequired,
    #[error("an item carries exactly one payload element")]
    InvalidPayload,
    #[error("the item is larger than this service accepts")]
    PayloadTooBig,
    #[error("no such node")]
    NoSuchNode,
    #[error("the node already exists")]
    NodeExists,
    #[error("the node's configuration does not meet the publish options")]
    PreconditionNotMet,
    #[error("the option {0} is not supported with that value")]
    BadOption(String),
    #[error("only contacts with a presence subscription may read this node")]
    PresenceSubscriptionRequired,
    #[error("only the owner may read this node")]
    ClosedNode,
    #[error("only the owner may do that")]
    Forbidden,
    #[error("this service holds no more nodes for the account")]
    TooManyNodes,
    #[error("this service does not support {0}")]
    Unsupported(&'static str),
    #[error("the service's storage failed")]
    Storage,
}

impl PepError {
    /// The `<error/>` for this refusal (§7.1.3, §6.5.9, §8.2.5, …).
    pub fn error(&self) -> Element {
        use DefinedCondition as C;
        use ErrorType as T;
        let (type_, condition, app) = match self {
            PepError::BadRequest(_) => (T::Modify, C::BadRequest, None),
            PepError::NodeIdRequired => (T::Modify, C::BadRequest, Some("nodeid-required")),
            PepError::ItemRequired => (T::Modify, C::BadRequest, Some("item-required")),
            PepError::PayloadRequired => (T::Modify, C::BadRequest, Some("payload-required")),
            PepError::InvalidPayload => (T::Modify, C::BadRequest, Some("invalid-payload")),
            PepError::PayloadTooBig => (T::Modify, C::NotAcceptable, Some("payload-too-big")),
            PepError::NoSuchNode => (T::Cancel, C::ItemNotFound, None),
            PepError::NodeExists => (T::Cancel, C::Conflict, None),
            PepError::PreconditionNotMet => (T::Cancel, C::Conflict, Some("precondition-not-met")),
            PepError::BadOption(var) if var == "pubsub#access_model" => (
                T::Modify,
                C::NotAcceptable,
                Some("unsupported-access-model"),
            ),
            PepError::BadOption(_) => (T::Modify, C::NotAcceptable, None),
            PepError::PresenceSubscriptionRequired => (
                T::Auth,
                C::NotAuthorized,
                Some("presence-subscription-required"),
            ),
            PepError::ClosedNode => (T::Cancel, C::NotAllowed, Some("closed-node")),
            PepError::Forbidden => (T::Auth, C::Forbidden, None),
            PepError::TooManyNodes => (T::Wait, C::ResourceConstraint, None),
            PepError::Unsupported(_) => (T::Cancel, C::FeatureNotImplemented, Some("unsupported")),
            PepError::Storage => (T::Wait, C::InternalServerError, None),
        };
        let mut error = stanza::stanza_error(type_, condition, Some(&self.to_string()));
        if let Some(app) = app {
            let mut el = Element::bare(app, ns::PUBSUB_ERRORS);
            if let PepError::Unsupported(feature) = self {
                stanza::set_attr(&mut el, "feature", feature);
            }
            error.append_child(el);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    const LIMIT: u32 = 64;

    #[test]
    fn omemo_devicelist_publish_with_options() {
        let payload = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <publish node='urn:xmpp:omemo:2:devices'><item id='current'>\
             <devices xmlns='urn:xmpp:omemo:2'><device id='12345'/></devices></item></publish>\
             <publish-options><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'>\
             <value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
             <field var='pubsub#access_model'><value>open</value></field>\
             <field var='pubsub#max_items'><value>max</value></field>\
             </x></publish-options></pubsub>",
        );
        let Request::Publish {
            node,
            id,
            payload,
            options,
        } = Request::parse("set", &payload).unwrap()
        else {
            panic!("not a publish");
        };
        assert_eq!(node, "urn:xmpp:omemo:2:devices");
        assert_eq!(id.as_deref(), Some("current"));
        assert!(payload.is("devices", "urn:xmpp:omemo:2"));
        let options = options.unwrap();
        let mut config = NodeConfig::DEFAULT;
        assert!(!config.meets(&options, LIMIT), "default is presence");
        config.apply(&options, LIMIT).unwrap();
        assert_eq!(config.access_model, AccessModel::Open);
        assert_eq!(config.max_items, LIMIT);
        assert!(config.meets(&options, LIMIT));
    }

    #[test]
    fn options_are_checked() {
        let mut config = NodeConfig::DEFAULT;
        for bad in [
            ("pubsub#access_model", "roster"),
            ("pubsub#max_items", "0"),
            ("pubsub#max_items", "65"),
            ("pubsub#persist_items", "yes"),
            ("pubsub#unknown", "1"),
        ] {
            assert!(
                matches!(
                    config.apply(&Fields::of(&[bad]), LIMIT),
                    Err(PepError::BadOption(_))
                ),
                "{bad:?}"
            );
            assert!(!config.meets(&Fields::of(&[bad]), LIMIT));
        }
        config
            .apply(&Fields::of(&[("pubsub#persist_items", "0")]), LIMIT)
            .unwrap();
        assert_eq!(config.kept(), 1);
    }

    #[test]
    fn requests_parse() {
        let items = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <items node='n' max_items='2'><item id='a'/></items></pubsub>",
        );
        assert_eq!(
            Request::parse("get", &items).unwrap(),
            Request::Items {
                node: "n".into(),
                max: Some(2),
                ids: vec!["a".into()]
            }
        );
        let retract = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <retract node='n' notify='true'><item id='a'/></retract></pubsub>",
        );
        assert_eq!(
            Request::parse("set", &retract).unwrap(),
            Request::Retract {
                node: "n".into(),
                ids: vec!["a".into()],
                notify: true
            }
        );
        let delete = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='n'/></pubsub>",
        );
        assert_eq!(
            Request::parse("set", &delete).unwrap(),
            Request::Delete { node: "n".into() }
        );
        let no_node = parse("<pubsub xmlns='http://jabber.org/protocol/pubsub'><items/></pubsub>");
        assert_eq!(
            Request::parse("get", &no_node),
            Err(PepError::NodeIdRequired)
        );
        let no_payload = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <publish node='n'><item id='x'/></publish></pubsub>",
        );
        assert_eq!(
            Request::parse("set", &no_payload),
            Err(PepError::PayloadRequired)
        );
        let subscribe = parse(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n' jid='a@b'/></pubsub>",
        );
        assert_eq!(
            Request::parse("set", &subscribe),
            Err(PepError::Unsupported("subscribe"))
        );
    }

    #[test]
    fn errors_carry_their_conditions() {
        let error = PepError::PreconditionNotMet.error();
        assert!(error.get_child("conflict", ns::STANZAS).is_some());
        assert!(
            error
                .get_child("precondition-not-met", ns::PUBSUB_ERRORS)
                .is_some()
        );
        let error = PepError::PresenceSubscriptionRequired.error();
        assert_eq!(error.attr("type"), Some("auth"));
        assert!(error.get_child("not-authorized", ns::STANZAS).is_some());
        let error = PepError::Unsupported("subscribe").error();
        assert_eq!(
            error
                .get_child("unsupported", ns::PUBSUB_ERRORS)
                .and_then(|u| u.attr("feature")),
            Some("subscribe")
        );
    }

    #[test]
    fn config_form_round_trips() {
        let mut config = NodeConfig::DEFAULT;
        config.access_model = AccessModel::Whitelist;
        let mut form = config.form();
        stanza::set_attr(&mut form, "type", "submit");
        let fields = Fields::parse(&form, ns::PUBSUB_NODE_CONFIG).unwrap();
        let mut other = NodeConfig::DEFAULT;
        other.apply(&fields, LIMIT).unwrap();
        assert_eq!(other, config);
    }

    #[test]
    fn events_have_their_shape() {
        let item = Item {
            id: "x".into(),
            payload: parse("<nick xmlns='http://jabber.org/protocol/nick'>N</nick>"),
        };
        let el = event("http://jabber.org/protocol/nick", &Event::Published(item));
        let items = el.get_child("items", ns::PUBSUB_EVENT).unwrap();
        assert_eq!(items.attr("node"), Some("http://jabber.org/protocol/nick"));
        assert_eq!(
            items
                .get_child("item", ns::PUBSUB_EVENT)
                .unwrap()
                .attr("id"),
            Some("x")
        );
        let el = event("n", &Event::Retracted(vec!["a".into()]));
        assert!(
            el.get_child("items", ns::PUBSUB_EVENT)
                .unwrap()
                .get_child("retract", ns::PUBSUB_EVENT)
                .is_some()
        );
    }
}
