//! Random identifiers for stream ids, generated resources, stanza ids and archive ids: unguessable
//! enough to never collide in practice, and safe in any XML attribute or JID resource.

use chrono::{DateTime, Utc};
use rand::Rng;

/// Twelve characters of `[a-z0-9]` (about 62 bits).
pub fn random_id() -> String {
    random_chars(12)
}

/// Twenty-five characters of `[a-z0-9]` (about 129 bits): for identifiers that grant
/// something to whoever presents them: stream-resumption ids.
pub fn unguessable_id() -> String {
    random_chars(25)
}

/// Twenty-five characters of `[a-z0-9]`: `at` in microseconds (eleven characters, in base 36,
/// zero-padded) then fourteen random ones (about 72 bits). Archive ids: still unguessable and
/// never repeating, but ids made later sort later, so an index on them grows at its end rather
/// than rewriting pages all over it.
pub fn time_ordered_id(at: DateTime<Utc>) -> String {
    let mut micros = u64::try_from(at.timestamp_micros()).unwrap_or_default();
    let mut prefix = [b'0'; 11];
    for digit in prefix.iter_mut().rev() {
        *digit = ALPHABET_SORTED[(micros % 36) as usize];
        micros /= 36;
    }
    let mut id: String = prefix.iter().map(|&b| b as char).collect();
    id.push_str(&random_chars(14));
    id
}

/// Base-36 digits in ASCII order, so that the text of a number sorts like the number.
const ALPHABET_SORTED: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn random_chars(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_sort_by_time_and_differ_within_one_instant() {
        let earlier = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
        let later = DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap();
        let (a, b, c) = (
            time_ordered_id(earlier),
            time_ordered_id(earlier),
            time_ordered_id(later),
        );
        assert_eq!(a.len(), 25);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(a, b);
        assert_eq!(a[..11], b[..11]);
        assert!(a < c && b < c);
        // The prefix is the time: year 5000 still fits in eleven digits.
        let far = DateTime::from_timestamp_micros(95_617_584_000_000_000).unwrap();
        assert!(time_ordered_id(far) > c);
    }
}
