//! XEP-0077 in-band registration on the wire: the request kinds (form, submission with username
//! and password in legacy fields or a data form, removal), the form and "registered" answers.

use minidom::Element;
use xmpp_parsers::data_forms::DataForm;
use xmpp_parsers::ibr::LegacyQuery;

use crate::ns;
use crate::stanza::{self, DefinedCondition, ErrorType};

/// The stream feature advertising registration before login (XEP-0077 §4).
pub const FEATURE_NS: &str = "http://jabber.org/features/iq-register";

/// What a `jabber:iq:register` iq asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterRequest {
    /// `get`: the fields to fill in (or, logged in, the account's registration).
    Form,
    /// `set` with a username and a password: a new account, or a new password.
    Submit { username: String, password: String },
    /// `set` with `<remove/>`: delete the account.
    Remove,
}

/// Why a registration iq cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("expected an iq get or set with a jabber:iq:register query")]
    Malformed,
    #[error("both a username and a non-empty password are required")]
    MissingFields,
}

impl RegisterError {
    pub fn error(self) -> Element {
        let condition = match self {
            RegisterError::Malformed => DefinedCondition::BadRequest,
            RegisterError::MissingFields => DefinedCondition::NotAcceptable,
        };
        stanza::stanza_error(ErrorType::Modify, condition, Some(&self.to_string()))
    }
}

/// Whether `el` is an iq carrying a `jabber:iq:register` query.
pub fn is_register_iq(el: &Element) -> bool {
    el.name() == "iq" && stanza::iq_payload(el).is_some_and(|p| p.is("query", ns::REGISTER))
}

impl RegisterRequest {
    /// Reads a `jabber:iq:register` iq (see [`is_register_iq`]).
    pub fn parse(iq: &Element) -> Result<RegisterRequest, RegisterError> {
        let query = stanza::iq_payload(iq)
            .filter(|p| p.is("query", ns::REGISTER))
            .ok_or(RegisterError::Malformed)?;
        match iq.attr("type") {
            Some("get") => return Ok(RegisterRequest::Form),
            Some("set") => {}
            _ => return Err(RegisterError::Malformed),
        }
        if query.has_child("remove", ns::REGISTER) {
            return Ok(RegisterRequest::Remove);
        }
        let (username, password) = match query.get_child("x", ns::DATA_FORMS) {
            Some(form) => {
                let form =
                    DataForm::try_from(form.clone()).map_err(|_| RegisterError::Malformed)?;
                let value = |var: &str| {
                    form.fields
                        .iter()
                        .find(|f| f.var.as_deref() == Some(var))
                        .and_then(|f| f.values.first().cloned())
                };
                (value("username"), value("password"))
            }
            None => {
                let legacy =
                    LegacyQuery::try_from(query.clone()).map_err(|_| RegisterError::Malformed)?;
                (legacy.username, legacy.password)
            }
        };
        match (username, password) {
            (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
                Ok(RegisterRequest::Submit { username, password })
            }
            _ => Err(RegisterError::MissingFields),
        }
    }
}

/// The fields a new account needs (XEP-0077 §3.1), in legacy form.
pub fn form(instructions: &str) -> Element {
    LegacyQuery {
        instructions: Some(instructions.to_owned()),
        username: Some(String::new()),
        password: Some(String::new()),
        ..LegacyQuery::default()
    }
    .into()
}

/// A logged-in user's registration (XEP-0077 §3.2): `<registered/>` and the username.
pub fn registered(username: &str) -> Element {
    LegacyQuery {
        registered: true,
        username: Some(username.to_owned()),
        password: Some(String::new()),
        ..LegacyQuery::default()
    }
    .into()
}

/// The `<register/>` stream feature.
pub fn stream_feature() -> Element {
    Element::bare("register", FEATURE_NS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iq(type_: &str, query: &str) -> Element {
        format!("<iq xmlns='jabber:client' type='{type_}' id='r'><query xmlns='jabber:iq:register'>{query}</query></iq>")
            .parse()
            .unwrap()
    }

    #[test]
    fn requests_are_told_apart() {
        assert!(is_register_iq(&iq("get", "")));
        assert_eq!(
            RegisterRequest::parse(&iq("get", "")),
            Ok(RegisterRequest::Form)
        );
        assert_eq!(
            RegisterRequest::parse(&iq("set", "<remove/>")),
            Ok(RegisterRequest::Remove)
        );
        let submit = RegisterRequest::Submit {
            username: "zoe".into(),
            password: "secret".into(),
        };
        assert_eq!(
            RegisterRequest::parse(&iq(
                "set",
                "<username>zoe</username><password>secret</password>"
            )),
            Ok(submit.clone())
        );
        let form = "<x xmlns='jabber:x:data' type='submit'>\
            <field var='FORM_TYPE'><value>jabber:iq:register</value></field>\
            <field var='username'><value>zoe</value></field>\
            <field var='password'><value>secret</value></field></x>";
        assert_eq!(RegisterRequest::parse(&iq("set", form)), Ok(submit));
    }

    #[test]
    fn incomplete_submissions_are_refused() {
        for query in [
            "<username>zoe</username>",
            "<username>zoe</username><password/>",
            "",
        ] {
            assert_eq!(
                RegisterRequest::parse(&iq("set", query)),
                Err(RegisterError::MissingFields),
                "{query}"
            );
        }
        assert_eq!(
            RegisterRequest::parse(&iq("result", "")),
            Err(RegisterError::Malformed)
        );
        let ping: Element =
            "<iq xmlns='jabber:client' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
                .parse()
                .unwrap();
        assert!(!is_register_iq(&ping));
        assert_eq!(RegisterRequest::parse(&ping), Err(RegisterError::Malformed));
    }

    #[test]
    fn answers_have_the_xep_shape() {
        let form = form("Choose a username and password");
        assert!(form.is("query", ns::REGISTER));
        assert!(form.has_child("username", ns::REGISTER));
        assert!(form.has_child("password", ns::REGISTER));
        assert!(form.has_child("instructions", ns::REGISTER));
        let registered = registered("alice");
        assert!(registered.has_child("registered", ns::REGISTER));
        assert_eq!(
            registered
                .get_child("username", ns::REGISTER)
                .unwrap()
                .text(),
            "alice"
        );
        assert_eq!(stream_feature().ns(), FEATURE_NS);
    }
}
