//! Request signing: every callback request carries an HMAC-SHA256 of its timestamp and body under
//! the callback's secret, so a receiver can tell Switchboard's requests from anyone else's.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// `sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body).
pub const SIGNATURE_HEADER: &str = "x-switchboard-signature";
/// Unix seconds when the request was signed; receivers reject old ones to stop replays.
pub const TIMESTAMP_HEADER: &str = "x-switchboard-timestamp";
/// Stable across retries of one stanza, so receivers can de-duplicate.
pub const DELIVERY_HEADER: &str = "x-switchboard-delivery";

/// A new random secret: 32 bytes, base64url without padding.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `message` keyed with the secret's UTF-8 bytes.
fn mac(secret: &str, message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// The `X-Switchboard-Signature` value for a request.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, &signed_message(timestamp, body));
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Checks a received signature in constant time (what a Rust receiver would do).
pub fn verify(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let expected = signature(secret, timestamp, body);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let digest = mac("Jefe", b"what do ya want for nothing?");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let sig = signature("s3cret", "1700000000", b"<message/>");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert_eq!(sig, signature("s3cret", "1700000000", b"<message/>"));
        assert!(verify("s3cret", "1700000000", b"<message/>", &sig));
        assert!(!verify("s3cret", "1700000001", b"<message/>", &sig));
        assert!(!verify("s3cret", "1700000000", b"<message />", &sig));
        assert!(!verify("other", "1700000000", b"<message/>", &sig));
        assert!(!verify("s3cret", "1700000000", b"<message/>", "sha256=00"));
    }

    #[test]
    fn generated_secrets_differ() {
        let a = generate_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate_secret());
    }
}
