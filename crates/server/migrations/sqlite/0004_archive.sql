-- Message archives (XEP-0313). Archive order is (ts, seq): the time a message was archived,
-- ties broken by arrival; `id` is the unguessable id clients see. Times are microseconds since
-- the Unix epoch.
CREATE TABLE archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    -- The other party: bare JID, and the JID as the message named it.
    with_bare TEXT NOT NULL,
    with_full TEXT NOT NULL,
    stanza TEXT NOT NULL
);
-- Looking up an id (paging anchors, after-id/before-id/ids), paging the whole archive, paging
-- the messages with one contact, and the retention purge across archives.
CREATE UNIQUE INDEX archive_id ON archive(username, id);
CREATE INDEX archive_order ON archive(username, ts, seq);
CREATE INDEX archive_with ON archive(username, with_bare, ts, seq);
CREATE INDEX archive_age ON archive(ts);

-- Archiving preferences (XEP-0441); an account without a row has the configured default.
CREATE TABLE archive_prefs (
    username TEXT PRIMARY KEY NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    default_policy TEXT NOT NULL,
    -- JSON arrays of JIDs.
    always TEXT NOT NULL,
    never TEXT NOT NULL
);
