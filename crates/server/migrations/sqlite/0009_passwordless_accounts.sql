-- Accounts provisioned by a JWT login (auth.jwt.provision) have no password: both SCRAM key
-- sets are absent (0 iterations) and every password login fails as a wrong password does. They
-- do not count against the SCRAM families offered (see scram_coverage).
ALTER TABLE users ADD COLUMN passwordless INTEGER NOT NULL DEFAULT 0;
