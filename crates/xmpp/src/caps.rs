//! XEP-0115 entity capabilities (v1.6): the `<c/>` of a presence, the disco#info query that
//! asks what a `ver` stands for, and the check of the answer against its hash (§5).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

use crate::{ns, stanza};

/// The suffix of a feature asking for a PEP node's notifications (XEP-0163 §4.3.1).
const NOTIFY: &str = "+notify";

/// The hash functions a `ver` may be computed with (the IANA registry names of §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    Sha1,
    Sha256,
    Sha512,
}

impl Algo {
    pub fn parse(name: &str) -> Option<Algo> {
        match name {
            "sha-1" => Some(Algo::Sha1),
            "sha-256" => Some(Algo::Sha256),
            "sha-512" => Some(Algo::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algo::Sha1 => "sha-1",
            Algo::Sha256 => "sha-256",
            Algo::Sha512 => "sha-512",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algo::Sha1 => Sha1::digest(data).to_vec(),
            Algo::Sha256 => Sha256::digest(data).to_vec(),
            Algo::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// A verification string and the function it was hashed with: what a cache of answers is
/// keyed by (the node only names the software, §6.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ver {
    pub algo: Algo,
    pub ver: String,
}

/// What a presence announces of its sender's capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    pub node: String,
    pub ver: Ver,
}

impl Caps {
    /// The `<c/>` of `presence`. `None` without one, for the legacy form without `hash` (whose
    /// `ver` cannot be checked) and for a hash function outside [`Algo`].
    pub fn of_presence(presence: &Element) -> Option<Caps> {
        let c = presence.get_child("c", ns::CAPS)?;
        let algo = Algo::parse(c.attr("hash")?)?;
        let node = c.attr("node")?;
        let ver = c.attr("ver").filter(|v| !v.is_empty())?;
        Some(Caps {
            node: node.to_owned(),
            ver: Ver {
                algo,
                ver: ver.to_owned(),
            },
        })
    }

    /// The disco#info node that describes this `ver` (§6.2).
    pub fn disco_node(&self) -> String {
        format!("{}#{}", self.node, self.ver.ver)
    }

    /// `<query xmlns='http://jabber.org/protocol/disco#info' node='node#ver'/>`.
    pub fn query(&self) -> Element {
        let mut query = Element::bare("query", ns::DISCO_INFO);
        stanza::set_attr(&mut query, "node", &self.disco_node());
        query
    }

    /// Checks a disco#info answer (the `<query/>` of the result) against the `ver` (§5.4) and
    /// returns the notifications it asks for.
    pub fn verify(&self, answer: &Element) -> Result<Interests, CapsError> {
        if ver_of(answer, self.ver.algo)? != self.ver.ver {
            return Err(CapsError::Mismatch);
        }
        Ok(Interests::of(answer))
    }
}

/// The `ver` that `answer` (a disco#info `<query/>`) hashes to with `algo` (§5.1): what a
/// client announces, and what its announcement is checked against.
pub fn ver_of(answer: &Element, algo: Algo) -> Result<String, CapsError> {
    let input = verification_string(answer)?;
    Ok(BASE64.encode(algo.digest(&input)))
}

/// Why an answer cannot stand for a `ver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    #[error("not a disco#info <query/>")]
    NotDiscoInfo,
    #[error("an identity is listed twice")]
    DuplicateIdentity,
    #[error("a feature is listed twice")]
    DuplicateFeature,
    #[error("two extended forms share a FORM_TYPE, or one has several")]
    AmbiguousForm,
    #[error("the answer does not hash to the announced ver")]
    Mismatch,
}

/// The PEP nodes whose notifications an entity asked for with `<node>+notify` features.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interests(BTreeSet<String>);

impl Interests {
    /// At most this many nodes are kept per answer: real clients ask for a few dozen, and the
    /// cache of answers stays bounded in bytes.
    pub const MAX: usize = 256;

    fn of(answer: &Element) -> Interests {
        Interests(
            answer
                .children()
                .filter(|c| c.is("feature", ns::DISCO_INFO))
                .filter_map(|f| f.attr("var")?.strip_suffix(NOTIFY))
                .take(Self::MAX)
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether notifications of `node` are wanted.
    pub fn wants(&self, node: &str) -> bool {
        self.0.contains(node)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// One `category/type/lang/name` identity in the order of §5.1 step 2.
type IdentityKey = (String, String, String, String);

/// The string §5.1 hashes: identities, features and extended forms in their sorted order, each
/// item followed by `<`. Fails on what §5.4 calls an ill-formed answer; a form whose FORM_TYPE
/// is not hidden is left out, as it says.
pub fn verification_string(answer: &Element) -> Result<Vec<u8>, CapsError> {
    if !answer.is("query", ns::DISCO_INFO) {
        return Err(CapsError::NotDiscoInfo);
    }
    let mut identities: Vec<IdentityKey> = Vec::new();
    let mut features: Vec<&str> = Vec::new();
    let mut forms: Vec<(String, Vec<u8>)> = Vec::new();
    for child in answer.children() {
        if child.is("identity", ns::DISCO_INFO) {
            let attr = |name: &str| child.attr(name).unwrap_or_default().to_owned();
            let lang = child
                .attr_ns(ns::XML, "lang")
                .unwrap_or_default()
                .to_owned();
            identities.push((attr("category"), attr("type"), lang, attr("name")));
        } else if child.is("feature", ns::DISCO_INFO) {
            features.push(child.attr("var").unwrap_or_default());
        } else if child.is("x", ns::DATA_FORMS)
            && let Some(form) = form_string(child)?
        {
            forms.push(form);
        }
    }
    identities.sort();
    if identities.windows(2).any(|w| w[0] == w[1]) {
        return Err(CapsError::DuplicateIdentity);
    }
    features.sort_unstable();
    if features.windows(2).any(|w| w[0] == w[1]) {
        return Err(CapsError::DuplicateFeature);
    }
    forms.sort();
    if forms.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(CapsError::AmbiguousForm);
    }
    let mut out = Vec::new();
    for (category, type_, lang, name) in &identities {
        out.extend_from_slice(format!("{category}/{type_}/{lang}/{name}<").as_bytes());
    }
    for feature in features {
        push_item(&mut out, feature);
    }
    for (_, form) in forms {
        out.extend(form);
    }
    Ok(out)
}

fn push_item(out: &mut Vec<u8>, item: &str) {
    out.extend_from_slice(item.as_bytes());
    out.push(b'<');
}

/// An extended form's FORM_TYPE and its part of the string (§5.1 step 8); `None` for a form
/// without a hidden FORM_TYPE.
fn form_string(form: &Element) -> Result<Option<(String, Vec<u8>)>, CapsError> {
    let fields: Vec<&Element> = form
        .children()
        .filter(|c| c.is("field", ns::DATA_FORMS))
        .collect();
    let values = |field: &Element| -> Vec<String> {
        field
            .children()
            .filter(|c| c.is("value", ns::DATA_FORMS))
            .map(Element::text)
            .collect()
    };
    let mut form_types = fields.iter().filter(|f| f.attr("var") == Some("FORM_TYPE"));
    let Some(form_type) = form_types.next() else {
        return Ok(None);
    };
    if form_types.next().is_some() {
        return Err(CapsError::AmbiguousForm);
    }
    if form_type.attr("type") != Some("hidden") {
        return Ok(None);
    }
    let mut type_values = values(form_type);
    type_values.dedup();
    let [type_value] = type_values.as_slice() else {
        return Err(CapsError::AmbiguousForm);
    };
    let mut others: Vec<(&str, Vec<String>)> = fields
        .iter()
        .filter_map(|f| {
            let var = f.attr("var")?;
            (var != "FORM_TYPE").then(|| (var, values(f)))
        })
        .collect();
    others.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    push_item(&mut out, type_value);
    for (var, mut values) in others {
        push_item(&mut out, var);
        values.sort();
        for value in values {
            push_item(&mut out, &value);
        }
    }
    Ok(Some((type_value.clone(), out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// XEP-0115 §5.2.
    const SIMPLE: &str = "<query xmlns='http://jabber.org/protocol/disco#info' \
        node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>\
        <identity category='client' name='Exodus 0.9.1' type='pc'/>\
        <feature var='http://jabber.org/protocol/caps'/>\
        <feature var='http://jabber.org/protocol/disco#info'/>\
        <feature var='http://jabber.org/protocol/disco#items'/>\
        <feature var='http://jabber.org/protocol/muc'/></query>";

    /// XEP-0115 §5.3, with an extended form.
    const COMPLEX: &str = "<query xmlns='http://jabber.org/protocol/disco#info' \
        node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>\
        <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>\
        <identity xml:lang='el' category='client' name='\u{3a8} 0.11' type='pc'/>\
        <feature var='http://jabber.org/protocol/caps'/>\
        <feature var='http://jabber.org/protocol/disco#info'/>\
        <feature var='http://jabber.org/protocol/disco#items'/>\
        <feature var='http://jabber.org/protocol/muc'/>\
        <x xmlns='jabber:x:data' type='result'>\
        <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
        <field var='software_version'><value>0.11</value></field>\
        <field var='ip_version'><value>ipv6</value><value>ipv4</value></field>\
        <field var='os'><value>Mac</value></field>\
        <field var='os_version'><value>10.5.1</value></field>\
        <field var='software'><value>Psi</value></field>\
        </x></query>";

    fn caps(node: &str, ver: &str) -> Caps {
        Caps {
            node: node.into(),
            ver: Ver {
                algo: Algo::Sha1,
                ver: ver.into(),
            },
        }
    }

    #[test]
    fn the_xeps_examples_verify() {
        let simple = caps(
            "http://code.google.com/p/exodus",
            "QgayPKawpkPSDYmwT/WM94uAlu0=",
        );
        assert_eq!(
            verification_string(&parse(SIMPLE)).unwrap(),
            b"client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<\
              http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
              http://jabber.org/protocol/muc<"
        );
        assert!(simple.verify(&parse(SIMPLE)).is_ok());
        // Fields and values out of order in the answer are sorted before hashing.
        let complex = caps("http://psi-im.org", "q07IKJEyjvHSyhy//CH0CxmKi8w=");
        assert!(complex.verify(&parse(COMPLEX)).is_ok());
        assert_eq!(
            complex.verify(&parse(SIMPLE)),
            Err(CapsError::Mismatch),
            "another answer does not stand for this ver"
        );
    }

    #[test]
    fn ill_formed_answers_are_refused() {
        let twice = SIMPLE.replace(
            "<feature var='http://jabber.org/protocol/muc'/>",
            "<feature var='http://jabber.org/protocol/muc'/><feature var='http://jabber.org/protocol/muc'/>",
        );
        assert_eq!(
            verification_string(&parse(&twice)),
            Err(CapsError::DuplicateFeature)
        );
        let identity = "<identity category='client' name='Exodus 0.9.1' type='pc'/>";
        let twice = SIMPLE.replace(identity, &identity.repeat(2));
        assert_eq!(
            verification_string(&parse(&twice)),
            Err(CapsError::DuplicateIdentity)
        );
        let form = &COMPLEX[COMPLEX.find("<x ").unwrap()..COMPLEX.find("</query>").unwrap()];
        let two_forms = COMPLEX.replace(form, &form.repeat(2));
        assert_eq!(
            verification_string(&parse(&two_forms)),
            Err(CapsError::AmbiguousForm)
        );
        assert_eq!(
            verification_string(&parse("<query xmlns='urn:x'/>")),
            Err(CapsError::NotDiscoInfo)
        );
    }

    #[test]
    fn a_form_without_hidden_form_type_is_left_out() {
        let plain = COMPLEX.replace(
            "var='FORM_TYPE' type='hidden'",
            "var='FORM_TYPE' type='text-single'",
        );
        let without = &COMPLEX[..COMPLEX.find("<x ").unwrap()];
        assert_eq!(
            verification_string(&parse(&plain)).unwrap(),
            verification_string(&parse(&format!("{without}</query>"))).unwrap()
        );
    }

    #[test]
    fn presence_caps_and_interests() {
        let presence = parse(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
             hash='sha-1' node='https://example.org/app' ver='abc='/></presence>",
        );
        let caps = Caps::of_presence(&presence).unwrap();
        assert_eq!(caps.disco_node(), "https://example.org/app#abc=");
        assert_eq!(
            caps.query().attr("node"),
            Some("https://example.org/app#abc=")
        );
        let legacy = parse(
            "<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' \
             node='n' ver='1.0' ext='x'/></presence>",
        );
        assert_eq!(Caps::of_presence(&legacy), None);
        let answer = parse(
            "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <feature var='urn:xmpp:omemo:2:devices+notify'/>\
             <feature var='urn:xmpp:avatar:metadata+notify'/>\
             <feature var='urn:xmpp:avatar:metadata'/></query>",
        );
        let interests = Interests::of(&answer);
        assert!(interests.wants("urn:xmpp:omemo:2:devices"));
        assert!(interests.wants("urn:xmpp:avatar:metadata"));
        assert!(!interests.wants("urn:xmpp:avatar:data"));
        assert_eq!(interests.nodes().count(), 2);
    }
}
