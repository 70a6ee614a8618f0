-- XEP-0363 HTTP File Upload: one row per slot handed out. A slot is pending until its PUT
-- completes (completed_at set); pending slots past slot_expires_at are purged with their partial
-- file. Files outlive their account until they expire or are purged. Times are Unix ms.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    filename TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    slot_expires_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX uploads_by_user ON uploads (username);
CREATE INDEX uploads_by_age ON uploads (created_at);

-- XEP-0357 push registrations: the app servers (a pubsub service JID and node) an account's
-- clients enabled, with the publish-options form to send along (XML, when given).
CREATE TABLE push_registrations (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    service TEXT NOT NULL,
    node TEXT NOT NULL,
    options TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (username, service, node)
);
