//! The media types mod_rest reads and writes (§2) and the choice of a response's type from
//! `Accept` (§2.2).

/// The media types mod_rest reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Xml,
    Json,
    Form,
    Text,
    Cbor,
}

impl MediaType {
    /// Every type, in the order Content-Type values are matched.
    pub const ALL: [MediaType; 5] = [
        MediaType::Xml,
        MediaType::Json,
        MediaType::Form,
        MediaType::Text,
        MediaType::Cbor,
    ];

    /// Response formats, in mod_rest's order of preference (XML is its default).
    const OUTPUTS: [MediaType; 4] = [
        MediaType::Xml,
        MediaType::Json,
        MediaType::Form,
        MediaType::Cbor,
    ];

    /// From a Content-Type header value; parameters such as `; charset=utf-8` are ignored and
    /// the comparison is case-insensitive.
    pub fn from_content_type(value: &str) -> Option<MediaType> {
        // mod_rest takes the value up to the first `;` or space.
        let essence = value
            .trim_start()
            .split(|c: char| c == ';' || c.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|media| media.mime().eq_ignore_ascii_case(essence))
    }

    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Xml => "application/xmpp+xml",
            MediaType::Json => "application/json",
            MediaType::Form => "application/x-www-form-urlencoded",
            MediaType::Text => "text/plain",
            MediaType::Cbor => "application/cbor",
        }
    }
}

/// One media range of an `Accept` header.
struct AcceptRange {
    main: String,
    sub: String,
    quality: f32,
}

impl AcceptRange {
    /// How specifically this range names `media` (RFC 9110 §12.5.1: the most specific match
    /// decides the quality), or `None` if it does not match at all.
    fn specificity(&self, media: MediaType) -> Option<u8> {
        let (main, sub) = media.mime().split_once('/')?;
        match (self.main.as_str(), self.sub.as_str()) {
            ("*", "*") => Some(0),
            (m, "*") if m == main => Some(1),
            (m, s) if m == main && s == sub => Some(2),
            _ => None,
        }
    }
}

/// Entries that do not parse (no `/`, a q-value outside 0–1) are ignored.
fn parse_accept(accept: &str) -> Vec<AcceptRange> {
    accept
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let (main, sub) = range.split_once('/')?;
            if main.is_empty() || sub.is_empty() {
                return None;
            }
            let mut quality = 1.0;
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = value.trim().parse::<f32>().ok()?;
                    if !(0.0..=1.0).contains(&quality) {
                        return None;
                    }
                }
            }
            Some(AcceptRange {
                main: main.to_owned(),
                sub: sub.to_owned(),
                quality,
            })
        })
        .collect()
}

/// The quality `Accept` gives `media` and the position of the range that decided it.
fn quality_of(ranges: &[AcceptRange], media: MediaType) -> Option<(f32, usize)> {
    let mut best: Option<(u8, f32, usize)> = None;
    for (position, range) in ranges.iter().enumerate() {
        if let Some(specificity) = range.specificity(media)
            && best.is_none_or(|(known, _, _)| specificity > known)
        {
            best = Some((specificity, range.quality, position));
        }
    }
    best.map(|(_, quality, position)| (quality, position))
}

/// The response format (§2.2). `Accept` is read by q-value (RFC 9110 §12.5.1: the highest
/// quality wins, `*/*` and `application/*` match, `q=0` excludes); equal qualities prefer the
/// request's own type, then the earlier range. With no usable `Accept`, the request's type is
/// used, then XML. Text is never an output format.
///
/// mod_rest instead picked the supported type whose name occurs first in `Accept` + "," +
/// Content-Type, ignoring q-values and wildcards.
pub fn negotiate(accept: Option<&str>, request: Option<MediaType>) -> MediaType {
    let fallback = request
        .filter(|media| *media != MediaType::Text)
        .unwrap_or(MediaType::Xml);
    let ranges = accept.map(parse_accept).unwrap_or_default();
    let mut best: Option<(f32, usize, MediaType)> = None;
    for media in MediaType::OUTPUTS {
        let Some((quality, position)) = quality_of(&ranges, media) else {
            continue;
        };
        if quality <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((known, _, _)) if quality != known => quality > known,
            Some((_, _, chosen)) if chosen == fallback => false,
            Some((_, known_position, _)) => media == fallback || position < known_position,
        };
        if better {
            best = Some((quality, position, media));
        }
    }
    if let Some((_, _, media)) = best {
        return media;
    }
    // Nothing acceptable: answer anyway (mod_rest never sends 406), avoiding excluded types.
    let excluded = |media: MediaType| quality_of(&ranges, media).is_some_and(|(q, _)| q <= 0.0);
    std::iter::once(fallback)
        .chain(MediaType::OUTPUTS)
        .find(|media| !excluded(*media))
        .unwrap_or(fallback)
}
