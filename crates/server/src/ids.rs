//! Random identifiers for stream ids, generated resources, stanza ids and archive ids: unguessable
//! enough to never collide in practice, and safe in any XML attribute or JID resource.

use rand::Rng;

/// Twelve characters of `[a-z0-9]` (about 62 bits).
pub fn random_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// 128 random bits in URL-safe base64 (22 characters): archive ids, which clients may put in
/// URLs and which must never be guessed or repeat.
pub fn unguessable_id() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
