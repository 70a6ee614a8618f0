//! The SCRAM server against the RFC 5802 and RFC 7677 vectors, a reference client computed
//! here, and malformed or out-of-order messages.

use super::*;
use crate::sasl::credentials::{Decoy, SALT_LEN, StoredCredentials};
use proptest::prelude::*;
use std::sync::OnceLock;

const CB_DATA: [u8; 32] = [7; 32];

/// A SCRAM exchange over a channel with the given tls-exporter data.
fn scram(mechanism: Mechanism, tls_exporter: Option<Vec<u8>>, plus_offered: bool) -> ScramServer {
    let channel = ChannelBinding {
        tls_exporter,
        plus_offered,
    };
    ScramServer::new(mechanism, channel).expect("a SCRAM mechanism")
}

fn keys(hash: ScramHash, password: &str, salt_b64: &str) -> ScramKeys {
    hash.keys(password, B64.decode(salt_b64).unwrap(), 4096)
}

/// The client half of the proof, for exchanges the RFC vectors do not cover.
fn client_final_message(
    hash: ScramHash,
    password: &str,
    client_first_bare: &str,
    server_first: &[u8],
    cbind_input: &[u8],
) -> Vec<u8> {
    let server_first = std::str::from_utf8(server_first).unwrap();
    let mut attrs = server_first.split(',');
    let nonce = attr(attrs.next().unwrap(), 'r').unwrap();
    let salt = b64_attr(attrs.next().unwrap(), 's').unwrap();
    let iterations = attr(attrs.next().unwrap(), 'i').unwrap().parse().unwrap();
    let salted = hash.salted_password(password, &salt, iterations);
    let client_key = hash.hmac(&salted, &[b"Client Key"]);
    let stored_key = hash.digest(&client_key);
    let without_proof = format!("c={},r={nonce}", B64.encode(cbind_input));
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hash.hmac(&stored_key, &[auth_message.as_bytes()]);
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
}

/// Runs an exchange for "user"/"pencil" up to server-first; returns the server and that message.
fn started(
    mechanism: Mechanism,
    channel_binding: Option<Vec<u8>>,
    gs2_header: &str,
) -> (ScramServer, Vec<u8>) {
    // PBKDF2 once per hash, not once per proptest case.
    static SHA1: OnceLock<ScramKeys> = OnceLock::new();
    static SHA256: OnceLock<ScramKeys> = OnceLock::new();
    let hash = mechanism.hash().unwrap();
    let cell = match hash {
        ScramHash::Sha1 => &SHA1,
        ScramHash::Sha256 => &SHA256,
    };
    let creds = cell.get_or_init(|| hash.keys("pencil", vec![1; SALT_LEN], 4096));
    let mut server = scram(mechanism, channel_binding, true);
    let first = format!("{gs2_header}n=user,r=clientnonce");
    assert_eq!(server.client_first(first.as_bytes()).unwrap(), "user");
    let server_first = server.server_first(Some(creds));
    (server, server_first)
}

#[test]
fn rfc5802_sha1_vector() {
    let keys = keys(ScramHash::Sha1, "pencil", "QSXCR+Q6sek8bf92");
    let mut server = scram(Mechanism::ScramSha1, None, false)
        .with_server_nonce("3rfcNHYJY1ZVvWVs7j")
        .unwrap();
    let user = server
        .client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
        .unwrap();
    assert_eq!(user, "user");
    assert_eq!(
        server.server_first(Some(&keys)),
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    );
    let server_final = server
        .client_final(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        )
        .unwrap();
    assert_eq!(server_final, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

#[test]
fn rfc7677_sha256_vector() {
    let keys = keys(ScramHash::Sha256, "pencil", "W22ZaJ0SNY7soEsUEjb6gQ==");
    let mut server = scram(Mechanism::ScramSha256, None, false)
        .with_server_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        .unwrap();
    assert_eq!(
        server
            .client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
            .unwrap(),
        "user"
    );
    assert_eq!(
        server.server_first(Some(&keys)),
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let server_final = server
        .client_final(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        .unwrap();
    assert_eq!(
        server_final,
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    );
}

#[test]
fn wrong_password_is_not_authorized() {
    let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencils",
        "n=user,r=clientnonce",
        &server_first,
        b"n,,",
    );
    assert_eq!(server.client_final(&msg), Err(SaslError::NotAuthorized));
}

#[test]
fn channel_binding_success() {
    for mechanism in [Mechanism::ScramSha1Plus, Mechanism::ScramSha256Plus] {
        let header = "p=tls-exporter,,";
        let (mut server, server_first) = started(mechanism, Some(CB_DATA.to_vec()), header);
        let cbind_input = [header.as_bytes(), &CB_DATA].concat();
        let msg = client_final_message(
            mechanism.hash().unwrap(),
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            &cbind_input,
        );
        assert!(server.client_final(&msg).unwrap().starts_with(b"v="));
    }
}

#[test]
fn channel_binding_mismatch() {
    let header = "p=tls-exporter,,";
    let (mut server, server_first) =
        started(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), header);
    let cbind_input = [header.as_bytes(), &[8; 32]].concat();
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencil",
        "n=user,r=clientnonce",
        &server_first,
        &cbind_input,
    );
    assert_eq!(
        server.client_final(&msg),
        Err(SaslError::ChannelBindingMismatch)
    );
}

#[test]
fn gs2_header_must_match_c_attribute() {
    let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencil",
        "n=user,r=clientnonce",
        &server_first,
        b"y,,",
    );
    assert_eq!(
        server.client_final(&msg),
        Err(SaslError::ChannelBindingMismatch)
    );
}

#[test]
fn y_flag_is_a_downgrade_when_plus_was_offered() {
    let mut server = scram(Mechanism::ScramSha256, Some(CB_DATA.to_vec()), true);
    assert_eq!(
        server.client_first(b"y,,n=user,r=abc"),
        Err(SaslError::ChannelBindingDowngrade)
    );
}

#[test]
fn y_flag_is_accepted_when_plus_was_not_offered() {
    let creds = ScramHash::Sha1.keys("pencil", vec![2; SALT_LEN], 4096);
    let mut server = scram(Mechanism::ScramSha1, None, false);
    server.client_first(b"y,,n=user,r=clientnonce").unwrap();
    let server_first = server.server_first(Some(&creds));
    let msg = client_final_message(
        ScramHash::Sha1,
        "pencil",
        "n=user,r=clientnonce",
        &server_first,
        b"y,,",
    );
    assert!(server.client_final(&msg).is_ok());
}

#[test]
fn channel_binding_flag_must_fit_mechanism_and_transport() {
    let check = |mechanism, binding: Option<&[u8]>, msg: &str, expected| {
        let mut server = scram(mechanism, binding.map(<[u8]>::to_vec), true);
        let first = format!("{msg}n=user,r=abc");
        assert_eq!(
            server.client_first(first.as_bytes()),
            Err(expected),
            "{msg}"
        );
    };
    let plus = Mechanism::ScramSha256Plus;
    check(
        plus,
        None,
        "p=tls-exporter,,",
        SaslError::UnsupportedChannelBinding,
    );
    check(
        plus,
        Some(&CB_DATA),
        "p=tls-unique,,",
        SaslError::UnsupportedChannelBinding,
    );
    check(
        plus,
        Some(&CB_DATA),
        "n,,",
        SaslError::ChannelBindingRequired,
    );
    check(
        plus,
        Some(&CB_DATA),
        "y,,",
        SaslError::ChannelBindingRequired,
    );
    check(plus, Some(&CB_DATA), "p=,,", SaslError::MalformedRequest);
    let plain = Mechanism::ScramSha256;
    check(
        plain,
        Some(&CB_DATA),
        "p=tls-exporter,,",
        SaslError::MalformedRequest,
    );
    check(plain, None, "x,,", SaslError::MalformedRequest);
}

#[test]
fn unknown_user_gets_normal_server_first_then_not_authorized() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server.client_first(b"n,,n=ghost,r=clientnonce").unwrap(),
        "ghost"
    );
    let server_first = server.server_first(None);
    let text = std::str::from_utf8(&server_first).unwrap();
    let attrs: Vec<&str> = text.split(',').collect();
    assert_eq!(attrs.len(), 3);
    assert!(attrs[0].starts_with("r=clientnonce"));
    assert_eq!(b64_attr(attrs[1], 's').unwrap().len(), SALT_LEN);
    assert_eq!(attrs[2], "i=4096");
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencil",
        "n=ghost,r=clientnonce",
        &server_first,
        b"n,,",
    );
    assert_eq!(server.client_final(&msg), Err(SaslError::NotAuthorized));
}

#[test]
fn decoy_salt_is_stable_per_user_and_honours_settings() {
    let salt_of = |name: &str, iterations| {
        let mut server = scram(Mechanism::ScramSha1, None, false)
            .with_decoy(Decoy::new(b"persistent secret", iterations));
        server
            .client_first(format!("n,,n={name},r=abc").as_bytes())
            .unwrap();
        let first = String::from_utf8(server.server_first(None)).unwrap();
        first.split_once(",s=").unwrap().1.to_owned()
    };
    assert_eq!(salt_of("ghost", 10_000), salt_of("ghost", 10_000));
    assert_ne!(salt_of("ghost", 10_000), salt_of("spectre", 10_000));
    assert!(salt_of("ghost", 10_000).ends_with(",i=10000"));
}

#[test]
fn authzid_must_be_absent_or_the_user() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server.client_first(b"n,a=user,n=user,r=abc").unwrap(),
        "user"
    );
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server.client_first(b"n,a=admin,n=user,r=abc"),
        Err(SaslError::InvalidAuthzid)
    );
}

#[test]
fn authzid_is_part_of_the_channel_binding_input() {
    let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,a=user,");
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencil",
        "n=user,r=clientnonce",
        &server_first,
        b"n,a=user,",
    );
    assert!(server.client_final(&msg).is_ok());
}

#[test]
fn username_escapes_are_decoded() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server.client_first(b"n,,n=a=2Cb=3Dc,r=abc").unwrap(),
        "a,b=c"
    );
    for bad in [
        &b"n,,n=a=2cb,r=abc"[..],
        b"n,,n=a=,r=abc",
        b"n,,n=a=3,r=abc",
    ] {
        let mut server = scram(Mechanism::ScramSha256, None, false);
        assert_eq!(server.client_first(bad), Err(SaslError::MalformedRequest));
    }
}

#[test]
fn username_is_saslprepped() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server
            .client_first("n,,n=us\u{00AD}er,r=abc".as_bytes())
            .unwrap(),
        "user"
    );
}

#[test]
fn mandatory_extension_is_rejected() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(
        server.client_first(b"n,,m=ext,n=user,r=abc"),
        Err(SaslError::ExtensionsNotSupported)
    );
}

#[test]
fn optional_extensions_are_ignored() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(server.client_first(b"n,,n=user,r=abc,x=1").unwrap(), "user");
}

#[test]
fn client_first_rejects_malformed_messages() {
    let cases: [&[u8]; 13] = [
        b"",
        b"n",
        b"n,",
        b"n,,",
        b"n,,n=user",
        b"n,,r=abc,n=user",
        b"n,,n=,r=abc",
        b"n,,n=user,r=",
        b"n,,n=user,r=a b",
        b"n,,n=user,r=\xc3\xa9",
        b"n,,n=user,r=abc,",
        b"n,,n=user,r=abc,1=x",
        b"n,,n=us\xffer,r=abc",
    ];
    for msg in cases {
        let mut server = scram(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(msg),
            Err(SaslError::MalformedRequest),
            "{msg:?}"
        );
    }
}

#[test]
fn client_final_rejects_malformed_messages() {
    let cases: [&[u8]; 9] = [
        b"",
        b"p=AAAA",
        b"c=biws,r=clientnonce",
        b"c=biws,p=dGVzdA==",
        b"r=x,c=biws,p=dGVzdA==",
        b"c=biws,r=x,p=not base64",
        b"c=biws,r=x,p=dGVzdA==",
        b"c=###,r=x,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        b"c=biws,r=x,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,x=1",
    ];
    for msg in cases {
        let (mut server, _) = started(Mechanism::ScramSha256, None, "n,,");
        assert_eq!(
            server.client_final(msg),
            Err(SaslError::MalformedRequest),
            "{msg:?}"
        );
    }
}

#[test]
fn changed_nonce_is_not_authorized() {
    let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
    let tampered =
        String::from_utf8(server_first)
            .unwrap()
            .replacen("r=clientnonce", "r=clientnoncf", 1);
    let msg = client_final_message(
        ScramHash::Sha256,
        "pencil",
        "n=user,r=clientnonce",
        tampered.as_bytes(),
        b"n,,",
    );
    assert_eq!(server.client_final(&msg), Err(SaslError::NotAuthorized));
}

#[test]
fn steps_out_of_order_fail() {
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert_eq!(server.client_final(b"c=biws"), Err(SaslError::OutOfOrder));
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert!(server.server_first(None).is_empty());
    let mut server = scram(Mechanism::ScramSha256, None, false);
    server.client_first(b"n,,n=user,r=abc").unwrap();
    assert_eq!(
        server.client_first(b"n,,n=user,r=abc"),
        Err(SaslError::OutOfOrder)
    );
    let mut server = scram(Mechanism::ScramSha256, None, false);
    assert!(server.client_first(b"garbage").is_err());
    assert!(server.server_first(None).is_empty());
    assert_eq!(server.client_final(b"c=biws"), Err(SaslError::OutOfOrder));
}

#[test]
fn derived_credentials_work_in_a_scram_exchange() {
    let creds = StoredCredentials::derive("pencil", 4096).unwrap();
    let mut server = scram(Mechanism::ScramSha1, None, false);
    server.client_first(b"n,,n=user,r=clientnonce").unwrap();
    let server_first = server.server_first(creds.for_hash(ScramHash::Sha1));
    let msg = client_final_message(
        ScramHash::Sha1,
        "pencil",
        "n=user,r=clientnonce",
        &server_first,
        b"n,,",
    );
    assert!(server.client_final(&msg).is_ok());
}

#[test]
fn plain_cannot_run_scram() {
    assert_eq!(
        ScramServer::new(Mechanism::Plain, ChannelBinding::default()).err(),
        Some(SaslError::InvalidMechanism)
    );
}

#[test]
fn server_nonce_must_be_printable_without_commas() {
    for nonce in ["", "a,b", "a b", "caf\u{e9}"] {
        let server = scram(Mechanism::ScramSha1, None, false).with_server_nonce(nonce);
        assert_eq!(server.err(), Some(SaslError::MalformedRequest), "{nonce:?}");
    }
}

#[test]
fn debug_output_hides_secrets() {
    let server = scram(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), true);
    let debug = format!("{server:?}");
    assert!(debug.contains("ScramSha256Plus"));
    assert!(!debug.contains(&server.server_nonce));
}

proptest! {
    #[test]
    fn client_first_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut server = scram(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), true);
        let _ = server.client_first(&msg);
    }

    #[test]
    fn client_first_shaped_input_never_panics(msg in "[npya=,2CD3r\\x00-\\x7f\u{00AD}\u{0627}]{0,64}") {
        for mechanism in Mechanism::ALL.into_iter().filter(|m| m.hash().is_some()) {
            let mut server = scram(mechanism, Some(CB_DATA.to_vec()), false);
            if server.client_first(msg.as_bytes()).is_ok() {
                prop_assert!(!server.server_first(None).is_empty());
            }
        }
    }

    #[test]
    fn client_final_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (mut server, _) = started(Mechanism::ScramSha1, None, "n,,");
        prop_assert!(server.client_final(&msg).is_err());
    }

    #[test]
    fn client_final_shaped_input_never_panics(
        msg in "c=[A-Za-z0-9+/=]{0,8},r=[a-z]{0,16}(,[a-z]=[a-z]{0,3})?,p=[A-Za-z0-9+/=]{0,48}",
    ) {
        let (mut server, _) = started(Mechanism::ScramSha256, None, "n,,");
        prop_assert!(server.client_final(msg.as_bytes()).is_err());
    }

}
