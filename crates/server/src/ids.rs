//! Random identifiers for stream ids, generated resources, stanza ids and archive ids: unguessable
//! enough to never collide in practice, and safe in any XML attribute or JID resource.

use rand::Rng;

/// Twelve characters of `[a-z0-9]` (about 62 bits).
pub fn random_id() -> String {
    random_chars(12)
}

/// Twenty-five characters of `[a-z0-9]` (about 129 bits): for identifiers that grant
/// something to whoever presents them or must never repeat: stream-resumption and archive ids.
pub fn unguessable_id() -> String {
    random_chars(25)
}

fn random_chars(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
