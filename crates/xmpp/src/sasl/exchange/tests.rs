//! Whole exchanges against an independent client implementation (the `sasl` crate of
//! xmpp-rs), for every mechanism.

use std::sync::OnceLock;

use sasl::client::mechanisms::{Plain, Scram};
use sasl::common::ChannelBinding as ClientBinding;
use sasl::common::scram::{Sha1, Sha256};

use super::*;

const EXPORTER: [u8; 32] = [9; 32];

fn credentials() -> &'static StoredCredentials {
    static CREDENTIALS: OnceLock<StoredCredentials> = OnceLock::new();
    CREDENTIALS.get_or_init(|| StoredCredentials::derive("pencil", 4096).unwrap())
}

fn exchange(mechanism: Mechanism, tls_exporter: Option<&[u8]>) -> ServerExchange {
    let channel = ChannelBinding {
        tls_exporter: tls_exporter.map(<[u8]>::to_vec),
        plus_offered: tls_exporter.is_some(),
    };
    ServerExchange::new(mechanism, channel, Decoy::new(b"test secret", 4096))
}

fn client(
    mechanism: Mechanism,
    password: &str,
    binding: ClientBinding,
) -> Box<dyn sasl::client::Mechanism> {
    match mechanism {
        Mechanism::Plain => Box::new(Plain::new("user", password)),
        Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => {
            Box::new(Scram::<Sha1>::new("user", password, binding).unwrap())
        }
        Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
            Box::new(Scram::<Sha256>::new("user", password, binding).unwrap())
        }
        Mechanism::External | Mechanism::OAuthBearer => {
            panic!("{mechanism} is not a password mechanism")
        }
    }
}

/// Runs a whole exchange the way a transport would; `known` decides whether "user" exists.
fn run(
    server: &mut ServerExchange,
    client: &mut dyn sasl::client::Mechanism,
    known: bool,
    with_initial_response: bool,
) -> Result<(), SaslError> {
    let mut step = if with_initial_response {
        server.start(Some(&client.initial()))?
    } else {
        server.start(None)?
    };
    let mut asked_for_initial = !with_initial_response;
    loop {
        step = match step {
            Step::Challenge(data) if asked_for_initial => {
                assert!(data.is_empty());
                asked_for_initial = false;
                server.respond(&client.initial())?
            }
            Step::Challenge(data) => server.respond(&client.response(&data).unwrap())?,
            Step::Lookup(name) => {
                assert_eq!(name, "user");
                server.credentials(known.then(credentials))?
            }
            Step::CheckPassword(plain) => {
                assert_eq!(plain.authcid, "user");
                server.password_checked(known && credentials().verify_password(&plain.password))?
            }
            Step::External(_) | Step::VerifyToken(_) => panic!("not a password step"),
            Step::Success { additional } => {
                if let Some(data) = additional {
                    client
                        .success(&data)
                        .expect("the client verifies the server's signature");
                }
                return Ok(());
            }
        };
    }
}

#[test]
fn every_mechanism_authenticates_an_independent_client() {
    for mechanism in Mechanism::PASSWORD {
        for with_initial_response in [true, false] {
            let (exporter, binding) = if mechanism.is_plus() {
                (
                    Some(&EXPORTER[..]),
                    ClientBinding::TlsExporter(EXPORTER.to_vec()),
                )
            } else {
                (None, ClientBinding::None)
            };
            let mut server = exchange(mechanism, exporter);
            let mut client = client(mechanism, "pencil", binding);
            assert_eq!(
                run(&mut server, client.as_mut(), true, with_initial_response),
                Ok(()),
                "{mechanism}"
            );
            assert_eq!(server.mechanism(), mechanism);
        }
    }
}

#[test]
fn wrong_password_and_unknown_user_look_alike() {
    for mechanism in [
        Mechanism::Plain,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
    ] {
        for (password, known) in [("crayon", true), ("pencil", false)] {
            let mut server = exchange(mechanism, None);
            let mut client = client(mechanism, password, ClientBinding::None);
            assert_eq!(
                run(&mut server, client.as_mut(), known, true),
                Err(SaslError::NotAuthorized),
                "{mechanism} {password} {known}"
            );
        }
    }
}

#[test]
fn channel_binding_data_must_match() {
    let mut server = exchange(Mechanism::ScramSha256Plus, Some(&EXPORTER));
    let mut client = client(
        Mechanism::ScramSha256Plus,
        "pencil",
        ClientBinding::TlsExporter(vec![1; 32]),
    );
    assert_eq!(
        run(&mut server, client.as_mut(), true, true),
        Err(SaslError::ChannelBindingMismatch)
    );
}

#[test]
fn a_client_that_saw_no_plus_is_a_downgrade_when_plus_was_offered() {
    let mut server = exchange(Mechanism::ScramSha256, Some(&EXPORTER));
    let mut client = client(Mechanism::ScramSha256, "pencil", ClientBinding::Unsupported);
    assert_eq!(
        run(&mut server, client.as_mut(), true, true),
        Err(SaslError::ChannelBindingDowngrade)
    );
}

#[test]
fn steps_out_of_order_fail() {
    let mut server = exchange(Mechanism::ScramSha256, None);
    assert_eq!(server.credentials(None), Err(SaslError::OutOfOrder));
    let mut server = exchange(Mechanism::Plain, None);
    assert_eq!(
        server.start(Some(b"\0user\0pencil")),
        Ok(Step::CheckPassword(PlainCredentials {
            authcid: "user".into(),
            password: "pencil".into()
        }))
    );
    assert_eq!(server.credentials(None), Err(SaslError::OutOfOrder));
    assert_eq!(
        server.respond(b"\0user\0pencil"),
        Err(SaslError::OutOfOrder)
    );
    assert_eq!(server.start(None), Err(SaslError::OutOfOrder));
    let mut server = exchange(Mechanism::Plain, None);
    assert_eq!(
        server.start(Some(b"garbage")),
        Err(SaslError::MalformedRequest)
    );
    assert_eq!(server.password_checked(true), Err(SaslError::OutOfOrder));
}

#[test]
fn plain_success_has_no_additional_data() {
    let mut server = exchange(Mechanism::Plain, None);
    server.start(Some(b"\0user\0pencil")).unwrap();
    assert_eq!(
        server.password_checked(true),
        Ok(Step::Success { additional: None })
    );
}

#[test]
fn debug_output_hides_the_password() {
    let mut server = exchange(Mechanism::Plain, None);
    server.start(Some(b"\0user\0pencil")).unwrap();
    let debug = format!("{server:?}");
    assert!(debug.contains("Plain"), "{debug}");
    assert!(!debug.contains("pencil"), "{debug}");
}

#[test]
fn external_asks_for_the_transport_identity() {
    let mut server = exchange(Mechanism::External, None);
    assert_eq!(server.start(None), Ok(Step::Challenge(Vec::new())));
    assert_eq!(server.respond(b""), Ok(Step::External(None)));
    assert_eq!(
        server.identity_checked(true),
        Ok(Step::Success { additional: None })
    );
    let mut server = exchange(Mechanism::External, None);
    assert_eq!(
        server.start(Some(b"alice@localhost")),
        Ok(Step::External(Some("alice@localhost".into())))
    );
    assert_eq!(
        server.identity_checked(false),
        Err(SaslError::NotAuthorized)
    );
    assert_eq!(server.identity_checked(true), Err(SaslError::OutOfOrder));
}

#[test]
fn oauthbearer_reports_a_refused_token_before_failing() {
    let msg = b"n,,\x01auth=Bearer abc\x01\x01";
    let mut server = exchange(Mechanism::OAuthBearer, None);
    let Ok(Step::VerifyToken(bearer)) = server.start(Some(msg)) else {
        panic!("a token to verify");
    };
    assert_eq!(bearer.token, "abc");
    assert_eq!(
        server.token_checked(true),
        Ok(Step::Success { additional: None })
    );
    let mut server = exchange(Mechanism::OAuthBearer, None);
    server.start(Some(msg)).unwrap();
    assert_eq!(
        server.token_checked(false),
        Ok(Step::Challenge(INVALID_TOKEN.to_vec()))
    );
    assert_eq!(server.respond(b"\x01"), Err(SaslError::NotAuthorized));
    let mut server = exchange(Mechanism::OAuthBearer, None);
    server.start(Some(msg)).unwrap();
    server.token_checked(false).unwrap();
    assert_eq!(server.respond(b"more"), Err(SaslError::MalformedRequest));
}
