use super::*;
use crate::pep::NodeConfig;
use crate::pie::PieNode;
use crate::pie::{PieEvent, PieLimits, PieReader};

const PROSODY_ALICE: &str =
    include_str!("../../../../../tests/data/xep0227/prosody/alice@localhost.xml");
const PROSODY_CAROL: &str =
    include_str!("../../../../../tests/data/xep0227/prosody/carol@localhost.xml");
const EJABBERD_SHA1: &str = include_str!(
    "../../../../../tests/data/xep0227/ejabberd-scram-sha1/20261130-155509_localhost.xml"
);
const EJABBERD_SHA256: &str = include_str!(
    "../../../../../tests/data/xep0227/ejabberd-scram-sha256/20261130-155531_localhost.xml"
);
const EJABBERD_PLAIN: &str =
    include_str!("../../../../../tests/data/xep0227/ejabberd-plain/20261130-155551_localhost.xml");

fn users_of(data: &str) -> Vec<PieUser> {
    let mut reader = PieReader::new(PieLimits::default());
    reader.feed(data.as_bytes()).unwrap();
    reader.finish().unwrap();
    std::iter::from_fn(|| reader.next_event())
        .filter_map(|e| match e {
            PieEvent::User { element, .. } => Some(PieUser::from_element(&element).unwrap()),
            _ => None,
        })
        .collect()
}

fn scram(user: &PieUser) -> &StoredCredentials {
    match &user.credentials {
        PieCredentials::Scram(creds) => creds,
        other => panic!("{other:?}"),
    }
}

fn bare(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

#[test]
fn prosody_scram_sha1_keys_verify_the_old_password() {
    let alice = &users_of(PROSODY_ALICE)[0];
    let creds = scram(alice);
    assert!(creds.for_hash(ScramHash::Sha256).is_none());
    assert_eq!(creds.for_hash(ScramHash::Sha1).unwrap().iterations, 10_000);
    assert!(creds.verify_password("wonderland-1"));
    assert!(!creds.verify_password("wonderland-2"));
}

#[test]
fn prosody_roster_and_pending_requests() {
    let alice = &users_of(PROSODY_ALICE)[0];
    assert_eq!(
        alice.roster,
        [
            PieRosterItem {
                jid: bare("bob@localhost"),
                name: Some("Bob B.".into()),
                subscription: Subscription::Both,
                ask: false,
                groups: vec!["Friends".into(), "Work".into()],
            },
            PieRosterItem {
                jid: bare("carol@localhost"),
                name: Some("Carol".into()),
                subscription: Subscription::None,
                ask: true,
                groups: vec!["Friends".into()],
            },
        ]
    );
    assert!(alice.skipped.is_empty(), "{:?}", alice.skipped);
    assert!(alice.offline.is_empty());
    let carol = &users_of(PROSODY_CAROL)[0];
    assert_eq!(carol.pending_in, [bare("alice@localhost")]);
    assert!(carol.roster.is_empty());
}

#[test]
fn ejabberd_twice_encoded_keys_verify_the_old_password() {
    for (file, hash) in [
        (EJABBERD_SHA1, ScramHash::Sha1),
        (EJABBERD_SHA256, ScramHash::Sha256),
    ] {
        let users = users_of(file);
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        let creds = scram(&users[1]);
        assert_eq!(creds.for_hash(hash).unwrap().iterations, 4096);
        assert!(creds.verify_password("builder-2"), "{hash:?}");
        assert!(!creds.verify_password("builder-3"), "{hash:?}");
    }
}

#[test]
fn ejabberd_offline_messages_and_plain_passwords() {
    let users = users_of(EJABBERD_PLAIN);
    assert_eq!(
        users[0].credentials,
        PieCredentials::Plain("wonderland-1".into())
    );
    assert_eq!(users[0].offline.len(), 1);
    let message = &users[0].offline[0];
    assert_eq!(message.attr("from"), Some("bob@localhost/gen"));
    assert_eq!(
        message.get_child("body", ns::CLIENT).map(Element::text),
        Some("Are you there, Alice?".into())
    );
    assert_eq!(users[2].pending_in, [bare("alice@localhost")]);
    let dave = users[1]
        .roster
        .iter()
        .find(|i| i.jid == bare("dave@example.org"));
    assert_eq!(dave.map(|i| i.subscription), Some(Subscription::To));
    assert!(!format!("{:?}", users[0].credentials).contains("wonderland"));
}

#[test]
fn bad_users_are_refused_and_bad_items_skipped() {
    let parse = |xml: &str| PieUser::from_element(&xml.parse::<Element>().unwrap());
    assert_eq!(
        parse("<user xmlns='urn:xmpp:pie:0'/>"),
        Err(UserError::NoName)
    );
    assert_eq!(
        parse("<user xmlns='urn:xmpp:pie:0' name='a'/>"),
        Err(UserError::NoCredentials("a".into()))
    );
    let err = parse(
        "<user xmlns='urn:xmpp:pie:0' name='a'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>4096</iter-count><salt>c2FsdA==</salt><server-key>AAAA</server-key><stored-key>AAAA</stored-key></scram-credentials></user>",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("keys are not 20 bytes long"),
        "{err}"
    );
    let user = parse(
        "<user xmlns='urn:xmpp:pie:0' name='a' password='p'><query xmlns='jabber:iq:roster'><item jid='not a jid@@'/><item jid='b@x' subscription='remove'/><item jid='c@x'/></query><archive xmlns='urn:xmpp:pie:0#mam'/><foo xmlns='urn:example'/></user>",
    )
    .unwrap();
    assert_eq!(user.roster.len(), 1);
    let kinds: Vec<SkippedKind> = user.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SkippedKind::RosterItem,
            SkippedKind::RosterItem,
            SkippedKind::Archive,
            SkippedKind::Other
        ]
    );
}

#[test]
fn written_users_read_back_the_same() {
    for file in [PROSODY_ALICE, EJABBERD_SHA1, EJABBERD_PLAIN] {
        for mut user in users_of(file) {
            user.skipped.clear();
            let doc = format!(
                "{}{}{}",
                crate::pie::document_start("localhost"),
                crate::pie::user_line(&user),
                crate::pie::DOCUMENT_END
            );
            assert_eq!(users_of(&doc), [user]);
        }
    }
}

#[test]
fn prosody_vcard_private_xml_and_pep_nickname() {
    let alice = &users_of(PROSODY_ALICE)[0];
    let vcard = alice.vcard.as_ref().expect("vCard");
    assert!(vcard.is("vCard", ns::VCARD));
    assert_eq!(
        vcard.get_child("FN", ns::VCARD).unwrap().text(),
        "Alice Liddell"
    );
    assert_eq!(alice.private.len(), 1);
    assert!(alice.private[0].is("notes", "http://miranda-im.org/storage#notes"));
    assert_eq!(alice.pep.len(), 1);
    let nick = &alice.pep[0];
    assert_eq!(nick.node, "http://jabber.org/protocol/nick");
    // Prosody leaves the options this server keeps empty: the PEP defaults apply.
    assert!(nick.options.is_empty(), "{:?}", nick.options);
    assert_eq!(nick.config(256), (NodeConfig::DEFAULT, Vec::new()));
    assert_eq!(nick.items.len(), 1);
    assert_eq!(nick.items[0].id, "current");
    assert!(
        nick.items[0]
            .payload
            .is("nick", "http://jabber.org/protocol/nick")
    );
    assert_eq!(nick.items[0].payload.text(), "Alice L.");
}

#[test]
fn node_options_apply_one_by_one_and_bad_items_are_skipped() {
    let user = PieUser::from_element(
        &"<user xmlns='urn:xmpp:pie:0' name='a' password='p'>\
          <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>\
          <configure node='n'><x xmlns='jabber:x:data' type='submit'>\
          <field var='pubsub#access_model'><value>roster</value></field>\
          <field var='pubsub#max_items'><value>max</value></field>\
          <field var='pubsub#persist_items'><value>0</value></field>\
          <field var='pubsub#title'><value>ignored</value></field>\
          </x></configure><purge/></pubsub>\
          <pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'>\
          <item id='1'><a xmlns='urn:a'/></item><item><a xmlns='urn:a'/></item>\
          <item id='3'/><item id='4'><a xmlns='urn:a'/><b xmlns='urn:b'/></item>\
          </items><items node='other'><item id='x'><c xmlns='urn:c'/></item></items></pubsub>\
          <vCard xmlns='vcard-temp'/><vCard xmlns='vcard-temp'><FN>two</FN></vCard>\
          <query xmlns='jabber:iq:private'><a xmlns='urn:a'/><a xmlns='urn:a'>two</a></query>\
          </user>"
            .parse::<Element>()
            .unwrap(),
    )
    .unwrap();
    let kinds: Vec<SkippedKind> = user.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SkippedKind::VCard,
            SkippedKind::PrivateXml,
            SkippedKind::Pep,
            SkippedKind::PepItem,
            SkippedKind::PepItem,
            SkippedKind::PepItem
        ]
    );
    assert_eq!(user.vcard.as_ref().unwrap().children().count(), 0);
    assert_eq!(user.private.len(), 1);
    let names: Vec<&str> = user.pep.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["n", "other"]);
    assert_eq!(user.pep[0].items.len(), 1);
    assert_eq!(user.pep[0].options.len(), 3, "title is not kept");
    let (config, refused) = user.pep[0].config(16);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].var, "pubsub#access_model");
    assert_eq!(
        config,
        NodeConfig {
            max_items: 16,
            persist_items: false,
            ..NodeConfig::DEFAULT
        }
    );
    // What this server writes spells every option out and reads back to the same config.
    let written = PieNode::with_config("n".into(), &config, Vec::new());
    assert_eq!(written.config(16), (config, Vec::new()));
}
