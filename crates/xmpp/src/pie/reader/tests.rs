use super::*;

const PROSODY_ALICE: &str =
    include_str!("../../../../../tests/data/xep0227/prosody/alice@localhost.xml");
const EJABBERD_MAIN: &str =
    include_str!("../../../../../tests/data/xep0227/ejabberd-scram-sha1/20261130-155509.xml");
const EJABBERD_HOST: &str = include_str!(
    "../../../../../tests/data/xep0227/ejabberd-scram-sha1/20261130-155509_localhost.xml"
);

/// Every event of `data` fed in chunks of `chunk` bytes, or the first error.
fn read(data: &str, chunk: usize) -> Result<Vec<PieEvent>, PieError> {
    let mut reader = PieReader::new(PieLimits::default());
    let mut events = Vec::new();
    for piece in data.as_bytes().chunks(chunk) {
        reader.feed(piece)?;
        events.extend(std::iter::from_fn(|| reader.next_event()));
    }
    reader.finish()?;
    events.extend(std::iter::from_fn(|| reader.next_event()));
    Ok(events)
}

fn users(events: &[PieEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            PieEvent::User { element, .. } => element.attr("name"),
            _ => None,
        })
        .collect()
}

#[test]
fn prosody_file_gives_its_host_and_user_in_any_chunking() {
    for chunk in [1, 7, 4096] {
        let events = read(PROSODY_ALICE, chunk).unwrap();
        assert!(matches!(&events[0], PieEvent::Host { jid, .. } if jid == "localhost"));
        assert_eq!(users(&events), ["alice"]);
        assert_eq!(events.len(), 2);
    }
}

#[test]
fn ejabberd_main_file_gives_its_include_and_the_host_file_its_users() {
    let events = read(EJABBERD_MAIN, 64).unwrap();
    assert_eq!(
        events,
        [PieEvent::Include {
            href: "20261130-155509_localhost.xml".into(),
            at: Position {
                line: 1,
                column: 119
            },
        }]
    );
    let events = read(EJABBERD_HOST, 64).unwrap();
    assert!(matches!(&events[0], PieEvent::Host { jid, .. } if jid == "localhost"));
    assert_eq!(users(&events), ["alice", "bob", "carol"]);
}

#[test]
fn users_are_found_on_their_lines_in_a_pretty_printed_file() {
    let doc = "<?xml version='1.0'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n  <host jid='example.org'>\n    <user name='a' password='x'/>\n    <user name='b' password='y'>\n      <query xmlns='jabber:iq:roster'/>\n    </user>\n  </host>\n</server-data>\n";
    let events = read(doc, 5).unwrap();
    let lines: Vec<u64> = events
        .iter()
        .map(|e| match e {
            PieEvent::Host { at, .. } | PieEvent::User { at, .. } => at.line,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(lines, [3, 4, 5]);
}

#[test]
fn malformed_files_give_line_and_column() {
    let doc =
        "<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='h'>\n<user name='a'>\n<query></user>\n";
    let err = read(doc, 3).unwrap_err();
    assert!(
        matches!(err, PieError::NotWellFormed { at, .. } if at.line == 4),
        "{err}"
    );
    assert!(err.to_string().starts_with("line 4, column "), "{err}");

    let err = read(
        "<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='h'>\n",
        100,
    )
    .unwrap_err();
    assert!(matches!(err, PieError::Truncated { .. }), "{err}");

    let err = read("<stream xmlns='jabber:client'/>", 100).unwrap_err();
    assert!(matches!(err, PieError::NotPie { .. }), "{err}");

    let err = read(
        "<server-data xmlns='urn:xmpp:pie:0'><host/></server-data>",
        100,
    )
    .unwrap_err();
    assert!(matches!(err, PieError::HostWithoutJid { .. }), "{err}");

    let err = read(
        "<server-data xmlns='urn:xmpp:pie:0'>\n  text\n</server-data>",
        100,
    )
    .unwrap_err();
    // Text is reported where it ends, at the next markup.
    assert!(
        matches!(err, PieError::StrayText { at } if at.line == 3),
        "{err}"
    );

    let err = read("", 100).unwrap_err();
    assert!(matches!(err, PieError::Truncated { .. }), "{err}");

    let err = read(
        "<!DOCTYPE x [<!ENTITY a 'b'>]><server-data xmlns='urn:xmpp:pie:0'/>",
        100,
    )
    .unwrap_err();
    assert!(matches!(err, PieError::NotWellFormed { .. }), "{err}");

    // A namespace nothing may be bound to: refused on its line rather than read into an element
    // that cannot be written again.
    let err = read(
        "<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='h'>\n<user name='a'>\n<x xmlns='http://www.w3.org/2000/xmlns/'/></user></host></server-data>",
        100,
    )
    .unwrap_err();
    assert!(
        matches!(err, PieError::NotWellFormed { at, .. } if at.line == 4),
        "{err}"
    );
}

#[test]
fn limits_hold() {
    let big = format!(
        "<server-data xmlns='urn:xmpp:pie:0'><host jid='h'><user name='a' password='{}'/></host></server-data>",
        "x".repeat(2000)
    );
    let mut reader = PieReader::new(PieLimits {
        max_user_bytes: 1000,
        max_depth: 64,
    });
    let err = reader.feed(big.as_bytes()).unwrap_err();
    assert!(matches!(err, PieError::TooBig { limit: 1000, .. }), "{err}");
    assert_eq!(reader.feed(b" "), Err(err));

    let deep = format!(
        "<host xmlns='urn:xmpp:pie:0' jid='h'><user name='a'>{}",
        "<x>".repeat(10)
    );
    let mut reader = PieReader::new(PieLimits {
        max_user_bytes: 1000,
        max_depth: 5,
    });
    let err = reader.feed(deep.as_bytes()).unwrap_err();
    assert!(matches!(err, PieError::TooDeep { limit: 5, .. }), "{err}");
}
