//! The SCRAM server (`sasl::ScramServer`) given arbitrary client-first and client-final
//! messages, with and without channel binding, for known and unknown accounts; and PLAIN's
//! message parser. No input may panic, and only the exact RFC 5802/7677 test-vector proofs
//! may authenticate.
//!
//! Input: one control byte, then `client-first LF client-final`. Bits 0–1 of the control byte
//! pick the mechanism (SCRAM-SHA-1, -SHA-1-PLUS, -SHA-256, -SHA-256-PLUS), bit 2 gives the
//! channel tls-exporter data, bit 3 says -PLUS was offered, bit 4 makes the account "user"
//! exist (password "pencil", the RFC vectors' salts), bit 5 runs PLAIN's parser on the rest
//! instead. The server nonce is the RFC vectors' own, so that their messages succeed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchboard_xmpp::sasl::{
    self, ChannelBinding, Decoy, Mechanism, ScramHash, ScramKeys, ScramServer,
};

const EXPORTER: [u8; 32] = [7; 32];

/// RFC 5802 §5 and RFC 7677 §3: salt and server nonce of each hash's vector.
fn vector(hash: ScramHash) -> (&'static [u8], &'static str) {
    match hash {
        ScramHash::Sha1 => (
            b"\x41\x25\xc2\x47\xe4\x3a\xb1\xe9\x3c\x6d\xff\x76",
            "3rfcNHYJY1ZVvWVs7j",
        ),
        ScramHash::Sha256 => (
            b"\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        ),
    }
}

/// The account's keys, derived once per process (PBKDF2 is too slow to run per input).
fn keys(hash: ScramHash) -> &'static ScramKeys {
    static SHA1: OnceLock<ScramKeys> = OnceLock::new();
    static SHA256: OnceLock<ScramKeys> = OnceLock::new();
    let cell = match hash {
        ScramHash::Sha1 => &SHA1,
        ScramHash::Sha256 => &SHA256,
    };
    cell.get_or_init(|| hash.keys("pencil", vector(hash).0.to_vec(), 4096))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    if control & 32 == 32 {
        if let Ok(plain) = sasl::parse_plain(data) {
            assert!(!plain.authcid.is_empty() && !plain.password.is_empty());
        }
        return;
    }
    let mechanism = [
        Mechanism::ScramSha1,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha256Plus,
    ][usize::from(control & 3)];
    let hash = mechanism.hash().expect("a SCRAM mechanism");
    let channel = ChannelBinding {
        tls_exporter: (control & 4 == 4).then(|| EXPORTER.to_vec()),
        plus_offered: control & 8 == 8,
    };
    let known = control & 16 == 16;
    let (client_first, client_final) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut server = ScramServer::new(mechanism, channel)
        .expect("a SCRAM mechanism")
        .with_decoy(Decoy::new(b"fuzz", 4096))
        .with_server_nonce(vector(hash).1)
        .expect("the vectors' nonces are valid");
    if server.client_first(client_first).is_err() {
        assert!(server.server_first(Some(keys(hash))).is_empty());
        return;
    }
    let server_first = server.server_first(known.then(|| keys(hash)));
    assert!(server_first.starts_with(b"r="));
    if server.client_final(client_final).is_ok() {
        assert!(known, "an unknown account authenticated");
        assert!(!mechanism.is_plus(), "no vector binds a channel");
    }
});
