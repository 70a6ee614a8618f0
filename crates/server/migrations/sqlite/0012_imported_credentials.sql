-- Accounts imported from another server (XEP-0227) may come with one SCRAM family only; the
-- other is kept as 0 iterations with empty salt and keys (see storage/sqlite/accounts.rs) until
-- the first password login derives both. A family is offered to clients only while every
-- account has keys for it: these partial indexes answer that, asked at every SASL offer,
-- without a scan.
CREATE INDEX users_without_sha1 ON users(username) WHERE sha1_iterations = 0;
CREATE INDEX users_without_sha256 ON users(username) WHERE sha256_iterations = 0;
