-- Sign-in: users (a buyer or a seller each) and their sessions. Passwords are stored only as
-- argon2id hashes (PHC strings); session tokens only as SHA-256 hashes, so a copy of this
-- table lets no one sign in.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('buyer', 'seller')),
    subject_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    home_region TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
