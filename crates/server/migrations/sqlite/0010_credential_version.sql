-- One counter that every change to a credential moves: a revoked token, a deleted account, a
-- new password. Servers cache verified credentials and poll it, so that a change made by
-- another process sharing the database (the CLI) ends what they cached. Triggers keep it
-- true whoever writes.
CREATE TABLE credential_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO credential_version (id, version) VALUES (1, 0);

CREATE TRIGGER credential_version_token_revoked AFTER DELETE ON tokens
BEGIN
    UPDATE credential_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER credential_version_user_deleted AFTER DELETE ON users
BEGIN
    UPDATE credential_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER credential_version_password_changed AFTER UPDATE OF
    sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
    sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key ON users
BEGIN
    UPDATE credential_version SET version = version + 1 WHERE id = 1;
END;
