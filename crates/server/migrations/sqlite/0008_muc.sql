-- Group chat (XEP-0045). A persistent room is one row: its name (the localpart of the room JID)
-- and its state as a JSON document (configuration, affiliations, reserved nicknames, subject),
-- written whole at every change. Temporary rooms are never stored.
CREATE TABLE muc_rooms (
    name TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL
);

-- The rooms' message archives: the layout of `archive` (see 0004), owned by a room name instead
-- of an account. Messages of temporary rooms live here while the room does.
CREATE TABLE muc_archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    -- The sender's real bare JID, and the occupant JID the message came from.
    with_bare TEXT NOT NULL,
    with_full TEXT NOT NULL,
    stanza TEXT NOT NULL
);
CREATE UNIQUE INDEX muc_archive_id ON muc_archive(room, id);
CREATE INDEX muc_archive_order ON muc_archive(room, ts, seq);
CREATE INDEX muc_archive_with ON muc_archive(room, with_bare, ts, seq);
CREATE INDEX muc_archive_age ON muc_archive(ts);
