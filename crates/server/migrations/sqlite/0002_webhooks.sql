-- The webhook outbox: a stanza for a callback is written here before it is acknowledged and
-- deleted once the callback's answer was handled. Rows of one destination JID are delivered in
-- id order; a row that gives up keeps its place in the table as a dead letter (dead_at set).
-- Times are milliseconds since the Unix epoch.
CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Stable across retries and restarts: receivers de-duplicate on it.
    delivery_id TEXT NOT NULL UNIQUE,
    -- Whose callback: a component domain or an account's bare JID.
    owner TEXT NOT NULL,
    -- Bare JID the stanza is addressed to; ordering holds per destination.
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    stanza TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- An iq's sender gets an error reply at this time if the callback has not answered.
    deadline INTEGER,
    last_status INTEGER,
    last_error TEXT,
    dead_at INTEGER
);
CREATE INDEX webhook_outbox_heads ON webhook_outbox(destination, id) WHERE dead_at IS NULL;
CREATE INDEX webhook_outbox_dead ON webhook_outbox(dead_at) WHERE dead_at IS NOT NULL;

-- Signing keys generated for callbacks that have none configured.
CREATE TABLE webhook_secrets (
    owner TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Callbacks registered for accounts through the admin API.
CREATE TABLE webhook_users (
    username TEXT PRIMARY KEY NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    url TEXT NOT NULL,
    content_type TEXT,
    -- JSON arrays; NULL means the default.
    stanzas TEXT,
    events TEXT,
    secret TEXT,
    updated_at INTEGER NOT NULL
);
