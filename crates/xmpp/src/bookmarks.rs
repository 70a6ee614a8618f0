//! Room bookmarks in both forms XEP-0411 (v1.1) keeps in step: XEP-0048's `<storage/>` in
//! private XML and XEP-0402's (v1.2) one `<conference/>` item per room in a PEP node.

use minidom::Element;

use crate::pep::Fields;
use crate::{ns, stanza};

/// One bookmarked room.
#[derive(Clone, Debug, PartialEq)]
pub struct Conference {
    /// The room's bare JID: the item id in XEP-0402.
    pub jid: String,
    pub name: Option<String>,
    pub autojoin: bool,
    pub nick: Option<String>,
    pub password: Option<String>,
    /// XEP-0402's `<extensions/>`, kept as is (XEP-0048 has no place for it).
    pub extensions: Option<Element>,
}

fn child_text(el: &Element, name: &str, namespace: &str) -> Option<String> {
    el.get_child(name, namespace)
        .map(Element::text)
        .filter(|t| !t.is_empty())
}

fn is_true(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "true"))
}

fn text_child(name: &str, namespace: &str, text: &str) -> Element {
    Element::builder(name, namespace).append(text).build()
}

impl Conference {
    /// The conferences of a XEP-0048 `<storage xmlns='storage:bookmarks'/>`; those without a
    /// `jid` are left out.
    pub fn from_storage(storage: &Element) -> Vec<Conference> {
        storage
            .children()
            .filter(|c| c.is("conference", ns::BOOKMARKS))
            .filter_map(|c| {
                Some(Conference {
                    jid: c.attr("jid").filter(|j| !j.is_empty())?.to_owned(),
                    name: c.attr("name").map(str::to_owned),
                    autojoin: is_true(c.attr("autojoin")),
                    nick: child_text(c, "nick", ns::BOOKMARKS),
                    password: child_text(c, "password", ns::BOOKMARKS),
                    extensions: None,
                })
            })
            .collect()
    }

    /// A XEP-0402 item (`id` is the room's JID).
    pub fn from_item(id: &str, payload: &Element) -> Option<Conference> {
        if !payload.is("conference", ns::BOOKMARKS2) || id.is_empty() {
            return None;
        }
        Some(Conference {
            jid: id.to_owned(),
            name: payload.attr("name").map(str::to_owned),
            autojoin: is_true(payload.attr("autojoin")),
            nick: child_text(payload, "nick", ns::BOOKMARKS2),
            password: child_text(payload, "password", ns::BOOKMARKS2),
            extensions: payload.get_child("extensions", ns::BOOKMARKS2).cloned(),
        })
    }

    /// The XEP-0402 item payload.
    pub fn item(&self) -> Element {
        let mut el = Element::bare("conference", ns::BOOKMARKS2);
        if let Some(name) = &self.name {
            stanza::set_attr(&mut el, "name", name);
        }
        if self.autojoin {
            stanza::set_attr(&mut el, "autojoin", "true");
        }
        if let Some(nick) = &self.nick {
            el.append_child(text_child("nick", ns::BOOKMARKS2, nick));
        }
        if let Some(password) = &self.password {
            el.append_child(text_child("password", ns::BOOKMARKS2, password));
        }
        if let Some(extensions) = &self.extensions {
            el.append_child(extensions.clone());
        }
        el
    }

    fn legacy(&self) -> Element {
        let mut el = Element::bare("conference", ns::BOOKMARKS);
        stanza::set_attr(&mut el, "jid", &self.jid);
        if let Some(name) = &self.name {
            stanza::set_attr(&mut el, "name", name);
        }
        stanza::set_attr(
            &mut el,
            "autojoin",
            if self.autojoin { "true" } else { "false" },
        );
        if let Some(nick) = &self.nick {
            el.append_child(text_child("nick", ns::BOOKMARKS, nick));
        }
        if let Some(password) = &self.password {
            el.append_child(text_child("password", ns::BOOKMARKS, password));
        }
        el
    }
}

/// A XEP-0048 `<storage/>` of `conferences`, with the `<url/>` bookmarks of `previous` (which
/// XEP-0402 does not carry) kept.
pub fn storage(conferences: &[Conference], previous: Option<&Element>) -> Element {
    let mut el = Element::bare("storage", ns::BOOKMARKS);
    for conference in conferences {
        el.append_child(conference.legacy());
    }
    if let Some(previous) = previous {
        for url in previous.children().filter(|c| c.is("url", ns::BOOKMARKS)) {
            el.append_child(url.clone());
        }
    }
    el
}

/// The publish-options XEP-0402 §3 asks for: private, persistent, as many items as allowed,
/// never sent on presence.
pub fn publish_options() -> Fields {
    Fields::of(&[
        ("pubsub#persist_items", "true"),
        ("pubsub#max_items", "max"),
        ("pubsub#send_last_published_item", "never"),
        ("pubsub#access_model", "whitelist"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_convert() {
        let storage_el: Element = "<storage xmlns='storage:bookmarks'>\
            <conference jid='room@muc.example' name='Room' autojoin='1'><nick>al</nick></conference>\
            <conference name='no jid'/>\
            <url name='site' url='https://example.org'/></storage>"
            .parse()
            .unwrap();
        let conferences = Conference::from_storage(&storage_el);
        assert_eq!(conferences.len(), 1);
        let room = &conferences[0];
        assert!(room.autojoin);
        assert_eq!(room.nick.as_deref(), Some("al"));
        let item = room.item();
        assert_eq!(item.attr("autojoin"), Some("true"));
        assert_eq!(
            Conference::from_item("room@muc.example", &item).as_ref(),
            Some(room)
        );
        let back = storage(&conferences, Some(&storage_el));
        assert_eq!(Conference::from_storage(&back), conferences);
        assert!(back.get_child("url", ns::BOOKMARKS).is_some());
        assert!(Conference::from_item("", &item).is_none());
    }
}
