-- Bearer tokens carry a scope: 'user' tokens act as their account on the client APIs only;
-- 'admin' tokens may also use the admin APIs when their account is listed under `admins`.
-- Tokens issued before scopes existed could do both, so they keep 'admin'.
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
