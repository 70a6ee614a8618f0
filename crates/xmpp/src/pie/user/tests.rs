use super::*;
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
fn prosody_roster_pending_requests_and_skipped_data() {
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
    let kinds: Vec<SkippedKind> = alice.skipped.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SkippedKind::VCard,
            SkippedKind::PrivateXml,
            SkippedKind::Pep
        ]
    );
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
