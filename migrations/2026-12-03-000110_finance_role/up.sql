-- Users may work in finance. PostgreSQL and CockroachDB name the old check differently;
-- whichever exists goes. Rules for every migration: docs/cockroachdb.md.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users DROP CONSTRAINT IF EXISTS check_role;
ALTER TABLE users ADD CONSTRAINT users_role_known
    CHECK (role IN ('buyer', 'seller', 'finance'));
