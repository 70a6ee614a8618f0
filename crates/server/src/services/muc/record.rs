//! A persistent room as stored: configuration, affiliations, reserved nicknames, subject and
//! the occupant-id key, as one JSON document (occupants are not kept: they rejoin).

use std::collections::BTreeMap;

use jid::BareJid;
use serde::{Deserialize, Serialize};
use switchboard_xmpp::muc::{Affiliation, RoomConfig};

use super::room::Room;
use crate::storage::{StoreError, StoredRoom};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    config: RoomConfig,
    #[serde(default)]
    affiliations: BTreeMap<String, Affiliation>,
    #[serde(default)]
    reserved: BTreeMap<String, String>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    subject_by: String,
    secret: String,
}

/// The stored form of `room`.
pub(super) fn store(room: &Room) -> Result<StoredRoom, StoreError> {
    let record = Record {
        config: room.config.clone(),
        affiliations: room
            .affiliations
            .iter()
            .map(|(j, a)| (j.to_string(), *a))
            .collect(),
        reserved: room
            .reserved
            .iter()
            .map(|(j, n)| (j.to_string(), n.clone()))
            .collect(),
        subject: room.subject.clone(),
        subject_by: room.subject_by.clone(),
        secret: room.secret.clone(),
    };
    let state = serde_json::to_string(&record)
        .map_err(|e| StoreError::Corrupt(format!("room {}: {e}", room.jid)))?;
    Ok(StoredRoom {
        name: room.room_name(),
        state,
    })
}

/// The room a stored document describes, on `domain`.
pub(super) fn load(stored: &StoredRoom, domain: &str) -> Result<Room, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("room {}: {e}", stored.name));
    let record: Record = serde_json::from_str(&stored.state).map_err(|e| corrupt(e.to_string()))?;
    let jid =
        BareJid::new(&format!("{}@{domain}", stored.name)).map_err(|e| corrupt(e.to_string()))?;
    let bare = |j: &str| BareJid::new(j).map_err(|e| corrupt(e.to_string()));
    let mut room = Room::new(jid, record.config, record.secret);
    for (j, a) in &record.affiliations {
        room.set_affiliation(bare(j)?, *a);
    }
    for (j, n) in record.reserved {
        room.reserved.insert(bare(&j)?, n);
    }
    room.subject = record.subject;
    room.subject_by = record.subject_by;
    room.fresh = false;
    room.stored = true;
    Ok(room)
}
