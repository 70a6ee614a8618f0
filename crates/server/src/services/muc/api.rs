//! The types of the room service's in-process API (used by the HTTP surfaces): a room to
//! create, what a room and its archive look like from outside, and why a call is refused.

use chrono::{DateTime, Utc};
use jid::BareJid;
use minidom::Element;
use switchboard_xmpp::muc::{Affiliation, MucError, Role, RoomConfig};

use crate::storage::StoreError;

/// A room to create with [`super::service::MucService::create_room`].
#[derive(Clone, Debug)]
pub struct NewRoom {
    /// The room JID's localpart; `None` picks `group-<uuid v4>` (the WebSocket seed's naming).
    pub name: Option<String>,
    /// Its first owner (counts towards `muc.max_rooms_per_user`).
    pub owner: BareJid,
    pub config: RoomConfig,
    /// The initial subject; empty for none.
    pub subject: String,
    /// Further affiliations (members, admins, owners, outcasts), set as the room is created.
    pub affiliations: Vec<(BareJid, Affiliation)>,
}

/// A room as listed for a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSummary {
    pub jid: BareJid,
    /// `muc#roomconfig_roomname` (may be empty).
    pub name: String,
    pub subject: String,
    /// The asking user's affiliation with the room.
    pub affiliation: Affiliation,
}

/// An occupant present in a room now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OccupantInfo {
    pub nick: String,
    /// The occupant's real bare JID.
    pub jid: BareJid,
    pub role: Role,
    pub affiliation: Affiliation,
}

/// Everything about a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomDetails {
    pub jid: BareJid,
    pub config: RoomConfig,
    pub subject: String,
    /// Every affiliation other than `none`, sorted by JID.
    pub affiliations: Vec<(BareJid, Affiliation)>,
    pub occupants: Vec<OccupantInfo>,
}

/// A message of a room's archive.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomMessage {
    /// The stanza-id the room gave it (`<stanza-id by='room@…'/>`), its archive id.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The nickname it was sent under.
    pub nick: String,
    /// The sender's real bare JID.
    pub sender: Option<BareJid>,
    pub body: Option<String>,
    /// The message as the occupants received it (from `room@…/nick`, without `to`).
    pub stanza: Element,
}

/// Where a page of a room's archive is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveFrom {
    /// The newest messages.
    Newest,
    /// The newest messages before this stanza-id.
    Before(String),
    /// The oldest messages after this stanza-id.
    After(String),
    /// The oldest messages.
    Oldest,
}

/// A page of a room's archive, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchivePage {
    pub messages: Vec<RoomMessage>,
    /// Nothing more lies beyond the page in the direction it was read.
    pub complete: bool,
}

/// Why an API call was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such room")]
    NoSuchRoom,
    #[error("a room with this name exists")]
    RoomExists,
    #[error("not a valid room name")]
    BadName,
    /// For callers that find no service (`AppState::muc()` is `None` with `muc.enabled =
    /// false`), so that they answer as for any other refusal; the service never returns it.
    #[error("the group chat service is disabled")]
    Disabled,
    /// The room refused, as it would refuse the same request over XMPP.
    #[error(transparent)]
    Refused(#[from] MucError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}
