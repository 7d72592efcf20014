-- Accounts made in the browser: a full name shown on profiles, and the
-- single-use invitations of invite-only sign-up (stored by the sha256 of
-- their code).

ALTER TABLE users ADD COLUMN full_name TEXT;

CREATE TABLE invites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash BLOB NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    used_at INTEGER
);
