-- Refused while compliance users exist: remove them first (migrations change no data).
ALTER TABLE users DROP CONSTRAINT users_role_known;
ALTER TABLE users ADD CONSTRAINT users_role_known
    CHECK (role IN ('buyer', 'seller', 'finance'));
