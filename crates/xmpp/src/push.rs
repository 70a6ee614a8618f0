//! XEP-0357 push notifications on the wire: a client's `<enable/>`/`<disable/>`, and the pubsub
//! publish with the `urn:xmpp:push:summary` form that the server sends to the app server.

use jid::BareJid;
use minidom::Element;
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field};
use xmpp_parsers::push::{Disable, Enable};

use crate::ns;
use crate::stanza::{self, DefinedCondition, ErrorType};

pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// The FORM_TYPE of a notification's summary.
pub const SUMMARY: &str = "urn:xmpp:push:summary";

/// What a client asks of its server (XEP-0357 §5, §6).
#[derive(Clone, Debug, PartialEq)]
pub enum PushCommand {
    /// Send notifications to `node` at the app server `service`, with the `publish-options`
    /// form (the app server's secret, typically) when given.
    Enable {
        service: BareJid,
        node: String,
        options: Option<Element>,
    },
    /// Stop notifying `node` at `service`, or every node there when `None`.
    Disable {
        service: BareJid,
        node: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("expected <enable/> or <disable/> in urn:xmpp:push:0 with a 'jid'")]
    Malformed,
    #[error("<enable/> needs a 'node'")]
    NoNode,
}

impl PushError {
    pub fn error(self) -> Element {
        stanza::stanza_error(
            ErrorType::Modify,
            DefinedCondition::BadRequest,
            Some(&self.to_string()),
        )
    }
}

impl PushCommand {
    /// Reads the payload of an iq set in `urn:xmpp:push:0`.
    pub fn parse(payload: &Element) -> Result<PushCommand, PushError> {
        if payload.is("enable", ns::PUSH) {
            let enable = Enable::try_from(payload.clone()).map_err(|_| PushError::Malformed)?;
            let node = enable
                .node
                .filter(|n| !n.is_empty())
                .ok_or(PushError::NoNode)?;
            return Ok(PushCommand::Enable {
                service: enable.jid,
                node,
                options: enable.form.map(Element::from),
            });
        }
        if payload.is("disable", ns::PUSH) {
            let disable = Disable::try_from(payload.clone()).map_err(|_| PushError::Malformed)?;
            return Ok(PushCommand::Disable {
                service: disable.jid,
                node: disable.node.filter(|n| !n.is_empty()),
            });
        }
        Err(PushError::Malformed)
    }
}

/// What a notification tells the app server (XEP-0357 §7): how many messages, and, when the
/// server is configured to say so, from whom and what the last one said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub message_count: u32,
    pub last_sender: Option<String>,
    pub last_body: Option<String>,
}

/// `<iq type='set'>` publishing a notification to `node` at `service`, from the account
/// `from`, with the registration's `publish-options` form.
pub fn notification(
    id: &str,
    from: &str,
    service: &str,
    node: &str,
    summary: &Summary,
    options: Option<&Element>,
) -> Element {
    let mut fields = vec![Field::text_single(
        "message-count",
        &summary.message_count.to_string(),
    )];
    if let Some(sender) = &summary.last_sender {
        fields.push(Field::text_single("last-message-sender", sender));
    }
    if let Some(body) = &summary.last_body {
        fields.push(Field::text_single("last-message-body", body));
    }
    let form = DataForm::new(DataFormType::Submit, SUMMARY, fields);
    let item = Element::builder("item", PUBSUB)
        .append(
            Element::builder("notification", ns::PUSH)
                .append(Element::from(form))
                .build(),
        )
        .build();
    let mut pubsub = Element::builder("pubsub", PUBSUB)
        .append(
            Element::builder("publish", PUBSUB)
                .attr(name("node"), node)
                .append(item)
                .build(),
        )
        .build();
    if let Some(options) = options {
        pubsub.append_child(
            Element::builder("publish-options", PUBSUB)
                .append(options.clone())
                .build(),
        );
    }
    Element::builder("iq", ns::CLIENT)
        .attr(name("type"), "set")
        .attr(name("id"), id)
        .attr(name("from"), from)
        .attr(name("to"), service)
        .append(pubsub)
        .build()
}

fn name(attr: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(attr).expect("attribute names are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<PushCommand, PushError> {
        PushCommand::parse(&xml.parse().unwrap())
    }

    #[test]
    fn enable_and_disable_are_read() {
        let enable = parse(
            "<enable xmlns='urn:xmpp:push:0' jid='push.example' node='n1'>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
             <field var='secret'><value>s3</value></field></x></enable>",
        )
        .unwrap();
        let PushCommand::Enable {
            service,
            node,
            options,
        } = enable
        else {
            panic!("{enable:?}");
        };
        assert_eq!((service.as_str(), node.as_str()), ("push.example", "n1"));
        assert!(String::from(&options.unwrap()).contains("s3"));
        assert_eq!(
            parse("<disable xmlns='urn:xmpp:push:0' jid='push.example'/>"),
            Ok(PushCommand::Disable {
                service: "push.example".parse().unwrap(),
                node: None,
            })
        );
        assert_eq!(
            parse("<enable xmlns='urn:xmpp:push:0' jid='push.example'/>"),
            Err(PushError::NoNode)
        );
        assert_eq!(
            parse("<enable xmlns='urn:xmpp:push:0' node='n'/>"),
            Err(PushError::Malformed)
        );
        assert_eq!(
            parse("<other xmlns='urn:xmpp:push:0'/>"),
            Err(PushError::Malformed)
        );
    }

    #[test]
    fn a_notification_publishes_the_summary_with_the_options() {
        let options: Element = "<x xmlns='jabber:x:data' type='submit'><field var='secret'><value>s3</value></field></x>"
            .parse()
            .unwrap();
        let summary = Summary {
            message_count: 1,
            last_sender: Some("juliet@capulet.example/balcony".into()),
            last_body: None,
        };
        let iq = notification(
            "n1",
            "romeo@montague.example",
            "push.example",
            "yxs",
            &summary,
            Some(&options),
        );
        assert_eq!(iq.attr("to"), Some("push.example"));
        assert_eq!(iq.attr("from"), Some("romeo@montague.example"));
        let pubsub = iq.get_child("pubsub", PUBSUB).unwrap();
        let publish = pubsub.get_child("publish", PUBSUB).unwrap();
        assert_eq!(publish.attr("node"), Some("yxs"));
        let form = publish
            .get_child("item", PUBSUB)
            .and_then(|i| i.get_child("notification", ns::PUSH))
            .and_then(|n| n.get_child("x", ns::DATA_FORMS))
            .map(|x| DataForm::try_from(x.clone()).unwrap())
            .unwrap();
        assert_eq!(form.form_type(), Some(SUMMARY));
        let value = |var: &str| {
            form.fields
                .iter()
                .find(|f| f.var.as_deref() == Some(var))
                .map(|f| f.values[0].clone())
        };
        assert_eq!(value("message-count").as_deref(), Some("1"));
        assert_eq!(
            value("last-message-sender").as_deref(),
            Some("juliet@capulet.example/balcony")
        );
        assert_eq!(value("last-message-body"), None);
        let carried = pubsub.get_child("publish-options", PUBSUB).unwrap();
        assert!(String::from(carried).contains("s3"));
    }
}
