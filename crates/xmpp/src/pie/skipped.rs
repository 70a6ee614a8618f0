//! What an import leaves out of an account, by kind, with the reason: data a file holds that
//! this server does not keep, or that is over one of its limits.

/// What kind of data a file held that this server does not import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkippedKind {
    VCard,
    PrivateXml,
    Pep,
    PepItem,
    PepOption,
    Archive,
    RosterItem,
    OfflineItem,
    Credentials,
    Other,
}

impl SkippedKind {
    pub fn label(self) -> &'static str {
        match self {
            SkippedKind::VCard => "vCards (vcard-temp)",
            SkippedKind::PrivateXml => "private XML (jabber:iq:private)",
            SkippedKind::Pep => "PEP nodes (pubsub)",
            SkippedKind::PepItem => "PEP items (pubsub)",
            SkippedKind::PepOption => "PEP node options (pubsub#node_config)",
            SkippedKind::Archive => "message archives (urn:xmpp:pie:0#mam)",
            SkippedKind::RosterItem => "roster items",
            SkippedKind::OfflineItem => "offline items",
            SkippedKind::Credentials => "credentials",
            SkippedKind::Other => "other elements",
        }
    }
}

/// One thing of a `<user>` that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub kind: SkippedKind,
    pub reason: String,
}
