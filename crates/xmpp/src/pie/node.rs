//! The PEP nodes of a `<user>`: their configuration in `<pubsub xmlns='…#owner'>` and their
//! items in `<pubsub xmlns='…pubsub'>`, read the way Prosody writes them and written back so.

use std::collections::HashMap;

use minidom::Element;

use super::skipped::{Skipped, SkippedKind};
use crate::ns;
use crate::pep::{Fields, NodeConfig};

/// The `pubsub#node_config` options this server keeps; a file's other options (titles,
/// notification switches this server always has on) are left out without a warning.
const KEPT_OPTIONS: [&str; 4] = [
    "pubsub#access_model",
    "pubsub#persist_items",
    "pubsub#max_items",
    "pubsub#send_last_published_item",
];

/// One option of a node's configuration form, as the file spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOption {
    pub var: String,
    pub value: String,
}

/// A published item: its id and its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct PieItem {
    pub id: String,
    pub payload: Element,
}

/// A PEP node of the account, its items oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct PieNode {
    pub node: String,
    /// The options of [`KEPT_OPTIONS`] the file gives a value, in its order.
    pub options: Vec<NodeOption>,
    pub items: Vec<PieItem>,
}

impl PieNode {
    /// A node as this server keeps it, with every option of its configuration spelt out.
    pub fn with_config(node: String, config: &NodeConfig, items: Vec<PieItem>) -> PieNode {
        let persist = if config.persist_items {
            "true"
        } else {
            "false"
        };
        let options = [
            config.access_model.as_str(),
            persist,
            &config.max_items.to_string(),
            config.send_last.as_str(),
        ]
        .iter()
        .zip(KEPT_OPTIONS)
        .map(|(value, var)| NodeOption {
            var: var.to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
        PieNode {
            node,
            options,
            items,
        }
    }

    /// The node's configuration: the default of a PEP node with each option applied that
    /// this server takes (`max_items` up to `limit`), and the options it does not take.
    pub fn config(&self, limit: u32) -> (NodeConfig, Vec<NodeOption>) {
        let mut config = NodeConfig::DEFAULT;
        let mut refused = Vec::new();
        for option in &self.options {
            let mut applied = config;
            match applied.apply(&Fields::of(&[(&option.var, &option.value)]), limit) {
                Ok(()) => config = applied,
                Err(_) => refused.push(option.clone()),
            }
        }
        (config, refused)
    }
}

/// The nodes of a `<user>`, in the order the file first names them.
struct Nodes {
    nodes: Vec<PieNode>,
    /// Where each node is in `nodes`: a file may name many.
    index: HashMap<String, usize>,
}

impl Nodes {
    /// The node named `node`, added at the end when it is not there yet.
    fn get(&mut self, node: &str) -> &mut PieNode {
        let at = *self.index.entry(node.to_owned()).or_insert_with(|| {
            self.nodes.push(PieNode {
                node: node.to_owned(),
                options: Vec::new(),
                items: Vec::new(),
            });
            self.nodes.len() - 1
        });
        &mut self.nodes[at]
    }
}

fn skip(skipped: &mut Vec<Skipped>, kind: SkippedKind, reason: String) {
    skipped.push(Skipped { kind, reason });
}

/// The nodes of the `<pubsub xmlns='…#owner'>` elements `owners` (configurations) and the
/// `<pubsub xmlns='…pubsub'>` elements `items` of a `<user>`.
pub(super) fn read(
    owners: &[&Element],
    items: &[&Element],
    skipped: &mut Vec<Skipped>,
) -> Vec<PieNode> {
    let mut nodes = Nodes {
        nodes: Vec::new(),
        index: HashMap::new(),
    };
    for pubsub in owners {
        read_owner(pubsub, &mut nodes, skipped);
    }
    for pubsub in items {
        read_items(pubsub, &mut nodes, skipped);
    }
    nodes.nodes
}

/// Reads the `<configure node='…'>` children of a `<pubsub xmlns='…#owner'>`.
fn read_owner(pubsub: &Element, nodes: &mut Nodes, skipped: &mut Vec<Skipped>) {
    for configure in pubsub.children() {
        let name = configure.attr("node").unwrap_or_default();
        if !configure.is("configure", ns::PUBSUB_OWNER) || name.is_empty() {
            let reason = format!("<{}> without a node in pubsub#owner", configure.name());
            skip(skipped, SkippedKind::Pep, reason);
            continue;
        }
        let node = nodes.get(name);
        let Some(form) = configure.get_child("x", ns::DATA_FORMS) else {
            continue;
        };
        for field in form.children().filter(|f| f.is("field", ns::DATA_FORMS)) {
            let var = field.attr("var").unwrap_or_default();
            let value = field
                .get_child("value", ns::DATA_FORMS)
                .map(Element::text)
                .unwrap_or_default();
            if KEPT_OPTIONS.contains(&var) && !value.is_empty() {
                node.options.push(NodeOption {
                    var: var.to_owned(),
                    value,
                });
            }
        }
    }
}

/// Reads the `<items node='…'>` children of a `<pubsub xmlns='…pubsub'>`.
fn read_items(pubsub: &Element, nodes: &mut Nodes, skipped: &mut Vec<Skipped>) {
    for items in pubsub.children() {
        let name = items.attr("node").unwrap_or_default();
        if !items.is("items", ns::PUBSUB) || name.is_empty() {
            let reason = format!("<{}> without a node in pubsub", items.name());
            skip(skipped, SkippedKind::Pep, reason);
            continue;
        }
        let node = nodes.get(name);
        for item in items.children() {
            let id = item.attr("id").unwrap_or_default();
            let payload = item.children().next();
            match (item.is("item", ns::PUBSUB), id.is_empty(), payload) {
                (true, false, Some(payload)) if item.children().count() == 1 => {
                    node.items.push(PieItem {
                        id: id.to_owned(),
                        payload: payload.clone(),
                    });
                }
                _ => {
                    let reason =
                        format!("an item of node {name} without an id or a single payload");
                    skip(skipped, SkippedKind::PepItem, reason);
                }
            }
        }
    }
}

/// The `<pubsub xmlns='…#owner'>` holding every node's configuration.
pub(super) fn owner_element(nodes: &[PieNode]) -> Element {
    let mut pubsub = Element::builder("pubsub", ns::PUBSUB_OWNER).build();
    for node in nodes {
        let mut form = Element::builder("x", ns::DATA_FORMS).build();
        crate::stanza::set_attr(&mut form, "type", "submit");
        form.append_child(field("FORM_TYPE", ns::PUBSUB_NODE_CONFIG));
        for option in &node.options {
            form.append_child(field(&option.var, &option.value));
        }
        let mut configure = Element::builder("configure", ns::PUBSUB_OWNER).build();
        crate::stanza::set_attr(&mut configure, "node", &node.node);
        configure.append_child(form);
        pubsub.append_child(configure);
    }
    pubsub
}

/// The `<pubsub xmlns='…pubsub'>` holding every node's items.
pub(super) fn items_element(nodes: &[PieNode]) -> Element {
    let mut pubsub = Element::builder("pubsub", ns::PUBSUB).build();
    for node in nodes {
        let mut items = Element::builder("items", ns::PUBSUB).build();
        crate::stanza::set_attr(&mut items, "node", &node.node);
        for item in &node.items {
            let mut el = Element::builder("item", ns::PUBSUB).build();
            crate::stanza::set_attr(&mut el, "id", &item.id);
            el.append_child(crate::stanza::without_prefixes(&item.payload));
            items.append_child(el);
        }
        pubsub.append_child(items);
    }
    pubsub
}

fn field(var: &str, value: &str) -> Element {
    let mut field = Element::builder("field", ns::DATA_FORMS).build();
    crate::stanza::set_attr(&mut field, "var", var);
    field.append_child(
        Element::builder("value", ns::DATA_FORMS)
            .append(value)
            .build(),
    );
    field
}
