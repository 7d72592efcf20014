-- Teams: organizations (accounts of kind 'org', sharing the users' namespace
-- space), their members and roles, disabled users, fine-grained token scopes,
-- repo creators, gating with access requests, and redirects of moved repos.
-- Names are unique case-insensitively (ASCII folding: names are ASCII).

ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_name_folded ON users (lower(name));

CREATE TABLE org_members (
    org_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- What a fine-grained token may reach: one repo, or every repo of one namespace.
CREATE TABLE token_scopes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    repo_id INTEGER REFERENCES repos (id) ON DELETE CASCADE,
    namespace_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    access TEXT NOT NULL
);
CREATE INDEX token_scopes_token ON token_scopes (token_id);

ALTER TABLE repos ADD COLUMN creator_id INTEGER REFERENCES users (id);
UPDATE repos SET creator_id = owner_id;
ALTER TABLE repos ADD COLUMN gated TEXT;
CREATE UNIQUE INDEX repos_name_folded ON repos (repo_type, lower(namespace), lower(name));

CREATE TABLE access_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    fields TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (repo_id, user_id)
);

-- An old name of a moved repo (folded to lower case), until a repo takes it.
CREATE TABLE repo_redirects (
    repo_type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_type, namespace, name)
);
