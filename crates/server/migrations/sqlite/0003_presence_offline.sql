-- Roster versions (XEP-0237): one number per account, raised with every change of its roster.
-- It starts from the clock, so that an account deleted and created again never hands out a
-- version that a client cached for its predecessor.
CREATE TABLE roster_versions (
    username TEXT PRIMARY KEY NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

-- Subscription requests an account received and has not answered yet (RFC 6121 §3.1.3,
-- "Pending In"): the complete stanza, re-sent at each new available resource until the
-- account approves or denies it. Such a contact need not be in the roster.
CREATE TABLE subscription_requests (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    stanza TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (username, jid)
);

-- Offline quotas: each message's size, and per-account totals kept by triggers so that the
-- check before a store reads one row.
ALTER TABLE offline_messages ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE offline_messages SET bytes = length(CAST(stanza AS BLOB));

CREATE TABLE offline_usage (
    username TEXT PRIMARY KEY NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    messages INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO offline_usage (username, messages, bytes)
    SELECT username, COUNT(*), SUM(bytes) FROM offline_messages GROUP BY username;

CREATE TRIGGER offline_usage_insert AFTER INSERT ON offline_messages BEGIN
    INSERT INTO offline_usage (username, messages, bytes) VALUES (NEW.username, 1, NEW.bytes)
    ON CONFLICT (username) DO UPDATE SET
        messages = messages + 1, bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER offline_usage_delete AFTER DELETE ON offline_messages BEGIN
    UPDATE offline_usage SET messages = messages - 1, bytes = bytes - OLD.bytes
    WHERE username = OLD.username;
END;

-- The one session delivering an account's stored messages: two resources coming online
-- together must not both get the backlog. A lease (milliseconds since the epoch), renewed
-- per batch, frees the account if the process holding it dies.
CREATE TABLE offline_claims (
    username TEXT PRIMARY KEY NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
