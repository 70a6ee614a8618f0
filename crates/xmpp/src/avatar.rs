//! Avatars both ways (XEP-0398 v0.3): the PHOTO of a XEP-0054 vCard, the XEP-0084 data and
//! metadata payloads, and the XEP-0153 `vcard-temp:x:update` hash, converted into each other.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use sha1::{Digest, Sha1};

use crate::{ns, stanza};

/// An image and its media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    pub mime: String,
    pub data: Vec<u8>,
}

impl Photo {
    /// The lowercase hex SHA-1 of the image: its XEP-0084 item id and its XEP-0153 hash.
    pub fn id(&self) -> String {
        Sha1::digest(&self.data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The vCard's PHOTO, when it holds an image (BINVAL; an EXTVAL is not one this server can
    /// convert).
    pub fn of_vcard(vcard: &Element) -> Option<Photo> {
        let photo = vcard.get_child("PHOTO", ns::VCARD)?;
        let binval = photo.get_child("BINVAL", ns::VCARD)?.text();
        let data = decode(&binval)?;
        let mime = photo
            .get_child("TYPE", ns::VCARD)
            .map(|t| t.text().trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "image/png".to_owned());
        Some(Photo { mime, data })
    }

    /// `<data xmlns='urn:xmpp:avatar:data'>` (XEP-0084 §4.1).
    pub fn data_payload(&self) -> Element {
        Element::builder("data", ns::AVATAR_DATA)
            .append(BASE64.encode(&self.data))
            .build()
    }

    /// `<metadata xmlns='urn:xmpp:avatar:metadata'><info …/></metadata>` (XEP-0084 §4.2).
    pub fn metadata_payload(&self) -> Element {
        let mut info = Element::bare("info", ns::AVATAR_METADATA);
        stanza::set_attr(&mut info, "bytes", &self.data.len().to_string());
        stanza::set_attr(&mut info, "id", &self.id());
        stanza::set_attr(&mut info, "type", &self.mime);
        Element::builder("metadata", ns::AVATAR_METADATA)
            .append(info)
            .build()
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok().filter(|d| !d.is_empty())
}

/// The image a XEP-0084 data item holds.
pub fn data_of(payload: &Element) -> Option<Vec<u8>> {
    if !payload.is("data", ns::AVATAR_DATA) {
        return None;
    }
    decode(&payload.text())
}

/// What a metadata item announces of the image published in the data node: its id and type
/// (the first `<info/>` without `url`, §4.2.1). `None` for an empty one (avatar disabled).
pub fn metadata_info(payload: &Element) -> Option<(String, String)> {
    if !payload.is("metadata", ns::AVATAR_METADATA) {
        return None;
    }
    payload
        .children()
        .filter(|c| c.is("info", ns::AVATAR_METADATA))
        .filter(|c| c.attr("url").is_none_or(str::is_empty))
        .find_map(|info| {
            let id = info.attr("id")?.to_owned();
            let mime = info.attr("type").unwrap_or("image/png").to_owned();
            Some((id, mime))
        })
}

/// `vcard` with its PHOTO replaced by `photo` (or removed without one), other fields kept.
pub fn with_photo(vcard: &Element, photo: Option<&Photo>) -> Element {
    let mut out = Element::bare("vCard", ns::VCARD);
    for child in vcard.children().filter(|c| !c.is("PHOTO", ns::VCARD)) {
        out.append_child(child.clone());
    }
    if let Some(photo) = photo {
        let type_ = Element::builder("TYPE", ns::VCARD)
            .append(photo.mime.as_str())
            .build();
        let binval = Element::builder("BINVAL", ns::VCARD)
            .append(BASE64.encode(&photo.data))
            .build();
        out.append_child(
            Element::builder("PHOTO", ns::VCARD)
                .append(type_)
                .append(binval)
                .build(),
        );
    }
    out
}

/// The XEP-0153 hash a presence carries: `Some(None)` for `<photo/>` (no avatar), `None`
/// when the presence says nothing of avatars.
pub fn presence_photo(presence: &Element) -> Option<Option<String>> {
    let x = presence.get_child("x", ns::VCARD_UPDATE)?;
    let photo = x.get_child("photo", ns::VCARD_UPDATE)?;
    let hash = photo.text();
    Some((!hash.trim().is_empty()).then(|| hash.trim().to_owned()))
}

/// `<x xmlns='vcard-temp:x:update'><photo>hash</photo></x>` (XEP-0153 §3.2).
pub fn update_element(hash: &str) -> Element {
    Element::builder("x", ns::VCARD_UPDATE)
        .append(
            Element::builder("photo", ns::VCARD_UPDATE)
                .append(hash)
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn vcard_photo_becomes_avatar_items_and_back() {
        let vcard = parse(
            "<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE>\
             <BINVAL>aGVs\n bG8=</BINVAL></PHOTO></vCard>",
        );
        let photo = Photo::of_vcard(&vcard).unwrap();
        assert_eq!(photo.data, b"hello");
        assert_eq!(photo.id(), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        let metadata = photo.metadata_payload();
        assert_eq!(
            metadata_info(&metadata),
            Some((photo.id(), "image/png".to_owned()))
        );
        assert_eq!(data_of(&photo.data_payload()).unwrap(), b"hello");
        let without = with_photo(&vcard, None);
        assert!(without.get_child("PHOTO", ns::VCARD).is_none());
        assert!(without.get_child("FN", ns::VCARD).is_some());
        let again = with_photo(&without, Some(&photo));
        assert_eq!(Photo::of_vcard(&again), Some(photo));
    }

    #[test]
    fn presence_hashes() {
        let none = parse("<presence xmlns='jabber:client'/>");
        assert_eq!(presence_photo(&none), None);
        let empty = parse(
            "<presence xmlns='jabber:client'><x xmlns='vcard-temp:x:update'><photo/></x></presence>",
        );
        assert_eq!(presence_photo(&empty), Some(None));
        let mut with = none.clone();
        with.append_child(update_element("abc"));
        assert_eq!(presence_photo(&with), Some(Some("abc".to_owned())));
        assert_eq!(
            metadata_info(&parse("<metadata xmlns='urn:xmpp:avatar:metadata'/>")),
            None
        );
    }
}
