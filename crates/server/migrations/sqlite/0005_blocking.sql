-- XEP-0191 blocklists: one row per blocked JID (normalised: user@domain/resource, user@domain,
-- domain/resource or domain). Deleting an account deletes its blocklist.
CREATE TABLE blocklist (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (username, jid)
);
