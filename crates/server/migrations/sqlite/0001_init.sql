-- Accounts hold SCRAM keys only (RFC 5802 StoredKey/ServerKey), never a password.
CREATE TABLE users (
    username TEXT PRIMARY KEY NOT NULL,
    sha1_salt BLOB NOT NULL,
    sha1_iterations INTEGER NOT NULL,
    sha1_stored_key BLOB NOT NULL,
    sha1_server_key BLOB NOT NULL,
    sha256_salt BLOB NOT NULL,
    sha256_iterations INTEGER NOT NULL,
    sha256_stored_key BLOB NOT NULL,
    sha256_server_key BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Bearer tokens are stored as SHA-256 digests: a leaked database yields no usable token.
CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX tokens_username ON tokens(username);

CREATE TABLE roster_items (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    name TEXT,
    subscription TEXT NOT NULL DEFAULT 'none',
    ask TEXT,
    groups TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (username, jid)
);

-- Messages for users with no available resource, delivered in id order at next login.
CREATE TABLE offline_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    stanza TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE INDEX offline_messages_username ON offline_messages(username, id);
