//! XEP-0363 HTTP File Upload on the wire: slot requests checked for a sane file name and media
//! type, the slot answer, the `file-too-large` error and the service's disco#info with its form.

use minidom::Element;
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field};
use xmpp_parsers::disco::{DiscoInfoResult, Identity};
use xmpp_parsers::http_upload::{Get, Put, SlotResult};

use crate::ns;
use crate::stanza::{self, DefinedCondition, ErrorType};

/// Longest file name accepted, in bytes (the common file-system limit).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest media type accepted, in bytes.
const MAX_TYPE_BYTES: usize = 127;
/// The type of a file whose request names none.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// A file name that is safe as the last segment of a URL and as a download name: no path
/// separators, no control characters, not `.` or `..`, at most [`MAX_NAME_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn new(name: &str) -> Result<FileName, RequestError> {
        let bad = name.is_empty()
            || name.len() > MAX_NAME_BYTES
            || name == "."
            || name == ".."
            || name
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control());
        if bad {
            return Err(RequestError::BadName);
        }
        Ok(FileName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A media type `type/subtype` of RFC 9110 token characters, lower-cased, without parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType(String);

impl MediaType {
    pub fn new(value: &str) -> Result<MediaType, RequestError> {
        let value = value.trim().to_ascii_lowercase();
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        match value.split_once('/') {
            Some((top, sub)) if value.len() <= MAX_TYPE_BYTES && token(top) && token(sub) => {
                Ok(MediaType(value))
            }
            _ => Err(RequestError::BadType),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a slot request is refused before any limit is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request is not a XEP-0363 slot request")]
    Malformed,
    #[error("the file name is empty, too long, or contains a path separator or control character")]
    BadName,
    #[error("the content type is not a media type (type/subtype)")]
    BadType,
    #[error("the file is empty")]
    Empty,
}

impl RequestError {
    /// The stanza error answering it.
    pub fn error(self) -> Element {
        let condition = match self {
            RequestError::Malformed => DefinedCondition::BadRequest,
            _ => DefinedCondition::NotAcceptable,
        };
        stanza::stanza_error(ErrorType::Modify, condition, Some(&self.to_string()))
    }
}

/// A slot request with its name and type checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub filename: FileName,
    pub size: u64,
    pub content_type: MediaType,
}

impl Request {
    /// Reads `<request xmlns='urn:xmpp:http:upload:0' filename size content-type/>`.
    /// (Read by hand: xmpp-parsers requires `content-type`, which the XEP leaves optional.)
    pub fn parse(payload: &Element) -> Result<Request, RequestError> {
        if !payload.is("request", ns::HTTP_UPLOAD) {
            return Err(RequestError::Malformed);
        }
        let filename = payload.attr("filename").ok_or(RequestError::Malformed)?;
        let size: u64 = payload
            .attr("size")
            .and_then(|s| s.parse().ok())
            .ok_or(RequestError::Malformed)?;
        if size == 0 {
            return Err(RequestError::Empty);
        }
        let content_type = match payload.attr("content-type").map(str::trim) {
            None | Some("") => MediaType(DEFAULT_TYPE.to_owned()),
            Some(value) => MediaType::new(value)?,
        };
        Ok(Request {
            filename: FileName::new(filename)?,
            size,
            content_type,
        })
    }
}

/// The answer to a granted request: where to PUT the file and where it will be fetched.
pub fn slot(put_url: &str, get_url: &str) -> Element {
    SlotResult {
        put: Put {
            url: put_url.to_owned(),
            headers: Vec::new(),
        },
        get: Get {
            url: get_url.to_owned(),
        },
    }
    .into()
}

/// XEP-0363 §4: a file above the service's limit, with the limit.
pub fn file_too_large(max_bytes: u64) -> Element {
    let mut error = stanza::stanza_error(
        ErrorType::Modify,
        DefinedCondition::NotAcceptable,
        Some(&format!("File too large: the maximum is {max_bytes} bytes")),
    );
    error.append_child(
        Element::builder("file-too-large", ns::HTTP_UPLOAD)
            .append(
                Element::builder("max-file-size", ns::HTTP_UPLOAD)
                    .append(max_bytes.to_string())
                    .build(),
            )
            .build(),
    );
    error
}

/// XEP-0363 §4: the account's stored files leave no room for this one.
pub fn quota_exceeded(quota_bytes: u64) -> Element {
    stanza::stanza_error(
        ErrorType::Wait,
        DefinedCondition::ResourceConstraint,
        Some(&format!(
            "Upload quota reached: your files may take {quota_bytes} bytes in all"
        )),
    )
}

/// disco#info of the upload service (XEP-0363 §3): `store/file`, the feature, and the
/// `max-file-size` form clients read before asking.
pub fn service_info(name: &str, max_bytes: u64) -> Element {
    let form = DataForm::new(
        DataFormType::Result_,
        ns::HTTP_UPLOAD,
        vec![Field::text_single("max-file-size", &max_bytes.to_string())],
    );
    DiscoInfoResult {
        node: None,
        identities: vec![Identity {
            category: "store".to_owned(),
            type_: "file".to_owned(),
            lang: None,
            name: Some(name.to_owned()),
        }],
        features: [ns::DISCO_INFO, ns::HTTP_UPLOAD].map(str::to_owned).into(),
        extensions: vec![form],
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(attrs: &str) -> Result<Request, RequestError> {
        let el: Element = format!("<request xmlns='urn:xmpp:http:upload:0' {attrs}/>")
            .parse()
            .unwrap();
        Request::parse(&el)
    }

    #[test]
    fn a_plain_request_is_read_with_its_type_lowered() {
        let r = request("filename='très cool.jpg' size='23456' content-type='Image/JPEG'").unwrap();
        assert_eq!(r.filename.as_str(), "très cool.jpg");
        assert_eq!(r.size, 23456);
        assert_eq!(r.content_type.as_str(), "image/jpeg");
        let r = request("filename='a' size='1'").unwrap();
        assert_eq!(r.content_type.as_str(), DEFAULT_TYPE);
    }

    #[test]
    fn bad_names_types_and_sizes_are_refused() {
        assert_eq!(FileName::new("a\u{1}b"), Err(RequestError::BadName));
        assert_eq!(FileName::new("a\nb"), Err(RequestError::BadName));
        for name in ["", ".", "..", "a/b", "a\\b", &"x".repeat(256)] {
            let attrs = format!("filename='{name}' size='1'");
            assert_eq!(request(&attrs), Err(RequestError::BadName), "{name:?}");
        }
        for ty in [
            "text",
            "text/",
            "/html",
            "text/html; charset=utf-8",
            "a b/c",
        ] {
            let attrs = format!("filename='a' size='1' content-type='{ty}'");
            assert_eq!(request(&attrs), Err(RequestError::BadType), "{ty:?}");
        }
        assert_eq!(request("filename='a' size='0'"), Err(RequestError::Empty));
        assert_eq!(
            request("filename='a' size='-1'"),
            Err(RequestError::Malformed)
        );
        assert_eq!(request("size='1'"), Err(RequestError::Malformed));
    }

    #[test]
    fn errors_carry_the_xep_conditions() {
        let error = file_too_large(1000);
        assert!(error.has_child("not-acceptable", ns::STANZAS));
        let max = error
            .get_child("file-too-large", ns::HTTP_UPLOAD)
            .and_then(|f| f.get_child("max-file-size", ns::HTTP_UPLOAD))
            .unwrap();
        assert_eq!(max.text(), "1000");
        let quota = quota_exceeded(5);
        assert_eq!(quota.attr("type"), Some("wait"));
        assert!(quota.has_child("resource-constraint", ns::STANZAS));
        assert!(
            RequestError::BadName
                .error()
                .has_child("not-acceptable", ns::STANZAS)
        );
    }

    #[test]
    fn the_slot_and_the_service_info_round_trip() {
        let el = slot("https://h/put?s=1&t=2", "https://h/get");
        let parsed = SlotResult::try_from(el).unwrap();
        assert_eq!(parsed.put.url, "https://h/put?s=1&t=2");
        assert_eq!(parsed.get.url, "https://h/get");
        let info = DiscoInfoResult::try_from(service_info("Uploads", 42)).unwrap();
        assert_eq!(info.identities[0].category, "store");
        assert_eq!(info.identities[0].type_, "file");
        assert!(info.features.iter().any(|f| f == ns::HTTP_UPLOAD));
        let form = &info.extensions[0];
        assert_eq!(form.form_type(), Some(ns::HTTP_UPLOAD));
        let max = form
            .fields
            .iter()
            .find(|f| f.var.as_deref() == Some("max-file-size"));
        assert_eq!(max.unwrap().values, vec!["42".to_owned()]);
    }
}
