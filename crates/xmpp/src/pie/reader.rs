//! Reads a XEP-0227 file incrementally: bytes in, hosts, `<user>` elements and XIncludes out,
//! one account in memory at a time, with line and column in every error.

use std::collections::VecDeque;

use minidom::Element;
use minidom::tree_builder::TreeBuilder;
use rxml::error::EndOrError;
use rxml::{Parse, RawEvent, RawParser, WithOptions};

use crate::framing::reserved_binding;
use crate::ns;

/// Bounds on what one account of a file may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieLimits {
    /// Bytes of one `<user>` element (or any other child of the root or a host).
    pub max_user_bytes: usize,
    /// Nesting depth inside one `<user>`.
    pub max_depth: usize,
}

impl Default for PieLimits {
    fn default() -> Self {
        PieLimits {
            max_user_bytes: 64 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// A place in the file: 1-based line, and column in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What a file holds, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum PieEvent {
    /// A `<host jid='…'>` starts.
    Host { jid: String, at: Position },
    /// A complete `<user>` of the current host; `at` is where it starts.
    User { element: Element, at: Position },
    /// `<xi:include href='…'/>`: ejabberd's reference to a file per host.
    Include { href: String, at: Position },
    /// A child of the root or of a host that is neither of the above.
    Unknown { name: String, at: Position },
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PieError {
    #[error("{at}: XML is not well-formed: {message}")]
    NotWellFormed { at: Position, message: String },
    #[error(
        "{at}: the root element is {found}, not <server-data> or <host> of {}",
        ns::PIE
    )]
    NotPie { at: Position, found: String },
    #[error("{at}: <host> has no jid attribute")]
    HostWithoutJid { at: Position },
    #[error("{at}: an element exceeds {limit} bytes")]
    TooBig { at: Position, limit: usize },
    #[error("{at}: elements nest deeper than {limit}")]
    TooDeep { at: Position, limit: usize },
    #[error("{at}: text outside of any <user>")]
    StrayText { at: Position },
    #[error("{at}: the file ends before its root element is closed")]
    Truncated { at: Position },
}

/// Where the root puts its accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    /// Before the root element is complete.
    Pending,
    /// `<server-data>`: hosts at depth 2, users at depth 3.
    ServerData,
    /// `<host>` (an ejabberd per-host file): users at depth 2.
    Host,
}

/// The incremental reader; feed it the file's bytes in chunks of any size.
pub struct PieReader {
    limits: PieLimits,
    raw: RawParser,
    tree: TreeBuilder,
    events: VecDeque<PieEvent>,
    root: Root,
    depth: usize,
    /// Where the parser has read up to.
    position: Position,
    /// Where the current item (user, include, …) started.
    item_start: Position,
    item_bytes: usize,
    failed: Option<PieError>,
}

impl PieReader {
    pub fn new(limits: PieLimits) -> PieReader {
        let options = rxml::Options::default();
        PieReader {
            limits,
            raw: RawParser::with_options(options),
            tree: TreeBuilder::new(),
            events: VecDeque::new(),
            root: Root::Pending,
            depth: 0,
            position: Position { line: 1, column: 1 },
            item_start: Position { line: 1, column: 1 },
            item_bytes: 0,
            failed: None,
        }
    }

    /// Parses all of `data`; complete items become available through [`Self::next_event`].
    pub fn feed(&mut self, data: &[u8]) -> Result<(), PieError> {
        self.parse(data, false)
    }

    /// The end of the file: an error unless the root element was closed.
    pub fn finish(&mut self) -> Result<(), PieError> {
        self.parse(&[], true)
    }

    pub fn next_event(&mut self) -> Option<PieEvent> {
        self.events.pop_front()
    }

    fn parse(&mut self, data: &[u8], at_eof: bool) -> Result<(), PieError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut rest = data;
        loop {
            let before = rest;
            let result = self.raw.parse(&mut rest, at_eof);
            self.advance(&before[..before.len() - rest.len()]);
            let outcome = match result {
                Ok(Some(event)) => self.handle(event),
                Ok(None) if self.depth == 0 && self.root != Root::Pending => return Ok(()),
                Ok(None) => Err(PieError::Truncated { at: self.position }),
                Err(EndOrError::NeedMoreData) => return Ok(()),
                // Nothing new was fed at the end: whatever rxml says, the file stops short.
                Err(EndOrError::Error(_)) if at_eof => {
                    Err(PieError::Truncated { at: self.position })
                }
                Err(EndOrError::Error(err)) => Err(PieError::NotWellFormed {
                    at: self.position,
                    message: err.to_string(),
                }),
            };
            if let Err(err) = outcome {
                self.failed = Some(err.clone());
                return Err(err);
            }
        }
    }

    fn advance(&mut self, consumed: &[u8]) {
        for &byte in consumed {
            if byte == b'\n' {
                self.position.line += 1;
                self.position.column = 1;
            } else if byte & 0xC0 != 0x80 {
                // A UTF-8 continuation byte belongs to the character already counted.
                self.position.column += 1;
            }
        }
    }

    /// The depth of `<user>` elements.
    fn user_depth(&self) -> usize {
        match self.root {
            Root::Host => 2,
            _ => 3,
        }
    }

    fn handle(&mut self, event: RawEvent) -> Result<(), PieError> {
        let mut at = self.position;
        if let RawEvent::Attribute(_, (prefix, name), value) = &event
            && let Some(message) =
                reserved_binding(prefix.as_ref().map(|p| p.as_str()), name.as_str(), value)
        {
            return Err(PieError::NotWellFormed { at, message });
        }
        match &event {
            RawEvent::XmlDeclaration(..) => return Ok(()),
            RawEvent::ElementHeadOpen(metrics, _) => {
                // The parser stands after `<name`: the element starts that many characters
                // back (names of the format are ASCII).
                let back = u64::try_from(metrics.len()).unwrap_or(u64::MAX);
                at.column = at.column.saturating_sub(back).max(1);
                self.depth += 1;
                if self.depth == 2 || (self.depth == 3 && self.root == Root::ServerData) {
                    self.item_start = at;
                    self.item_bytes = 0;
                }
                if self.depth > self.limits.max_depth + self.user_depth() {
                    return Err(PieError::TooDeep {
                        at,
                        limit: self.limits.max_depth,
                    });
                }
            }
            RawEvent::Text(_, text) if self.depth < self.user_depth() => {
                if text.chars().all(|c| c.is_ascii_whitespace()) {
                    return Ok(());
                }
                return Err(PieError::StrayText { at });
            }
            _ => {}
        }
        if self.depth >= 2 {
            self.item_bytes = self.item_bytes.saturating_add(event.metrics().len());
            if self.item_bytes > self.limits.max_user_bytes {
                return Err(PieError::TooBig {
                    at: self.item_start,
                    limit: self.limits.max_user_bytes,
                });
            }
        }
        let head_close = matches!(event, RawEvent::ElementHeadClose(_));
        let foot = matches!(event, RawEvent::ElementFoot(_));
        self.tree
            .process_event(event)
            .map_err(|e| PieError::NotWellFormed {
                at,
                message: e.to_string(),
            })?;
        if head_close {
            self.opened(at)?;
        } else if foot {
            self.depth -= 1;
            self.closed();
        }
        Ok(())
    }

    /// An element's head is complete: the root decides the layout, a host is announced.
    fn opened(&mut self, at: Position) -> Result<(), PieError> {
        let Some(top) = self.tree.top() else {
            return Ok(());
        };
        let is_host = top.is("host", ns::PIE);
        let host_jid = top.attr("jid").map(str::to_owned);
        if self.depth == 1 {
            self.root = if top.is("server-data", ns::PIE) {
                Root::ServerData
            } else if is_host {
                Root::Host
            } else {
                return Err(PieError::NotPie {
                    at,
                    found: format!("<{}> of '{}'", top.name(), top.ns()),
                });
            };
        }
        let host_level = match self.root {
            Root::Host => 1,
            _ => 2,
        };
        if self.depth == host_level && is_host {
            let jid = host_jid.ok_or(PieError::HostWithoutJid { at })?;
            self.events.push_back(PieEvent::Host { jid, at });
        }
        Ok(())
    }

    /// An element ended; a complete item is taken off its parent so memory stays bounded.
    fn closed(&mut self) {
        let at = self.item_start;
        let user_parent = self.user_depth() - 1;
        if self.depth == user_parent {
            let parent_is_host = self.tree.top().is_some_and(|p| p.is("host", ns::PIE));
            if let Some(element) = self.tree.unshift_child() {
                let event = if parent_is_host && element.is("user", ns::PIE) {
                    PieEvent::User {
                        element: crate::stanza::without_prefixes(&element),
                        at,
                    }
                } else {
                    self.item(element, at)
                };
                self.events.push_back(event);
            }
        } else if self.depth == 1 && self.root == Root::ServerData {
            // A host whose users were all taken, or an include or other item of the root.
            if let Some(element) = self.tree.unshift_child()
                && !element.is("host", ns::PIE)
            {
                let event = self.item(element, at);
                self.events.push_back(event);
            }
        }
    }

    fn item(&self, element: Element, at: Position) -> PieEvent {
        match element.attr("href") {
            Some(href) if element.is("include", ns::XINCLUDE) => PieEvent::Include {
                href: href.to_owned(),
                at,
            },
            _ => PieEvent::Unknown {
                name: format!("{{{}}}{}", element.ns(), element.name()),
                at,
            },
        }
    }
}

#[cfg(test)]
mod tests;
