-- Tessera metadata, SQLite dialect. Hashes and object ids are raw bytes;
-- times are unix milliseconds.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    private INTEGER NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (repo_type, namespace, name)
);

-- Git objects are content-addressed and shared by all repos; a repo reaches
-- only the objects its refs lead to.
CREATE TABLE git_objects (
    oid BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE refs (
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    target BLOB NOT NULL,
    PRIMARY KEY (repo_id, name)
);

CREATE TABLE xorbs (
    hash BLOB PRIMARY KEY,
    serialized_len INTEGER NOT NULL,
    uncompressed_len INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    chunk_index BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE xet_files (
    hash BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    terms BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Which Xet files a repo may read, and the sha256 its uploader claimed for each.
CREATE TABLE repo_xet_files (
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    file_hash BLOB NOT NULL,
    sha256 BLOB,
    size INTEGER NOT NULL,
    PRIMARY KEY (repo_id, file_hash)
);
CREATE INDEX repo_xet_files_sha256 ON repo_xet_files (repo_id, sha256);

-- Global dedup: an indexed chunk -> the xorbs worth offering a client that has it
-- (its own xorb, and for a file's first chunk every xorb of that file).
CREATE TABLE dedup_chunks (
    chunk_hash BLOB NOT NULL,
    xorb_hash BLOB NOT NULL,
    PRIMARY KEY (chunk_hash, xorb_hash)
);
