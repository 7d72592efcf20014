-- Git LFS file locks: at most one lock per path of a repo. Times are unix
-- milliseconds.

CREATE TABLE lfs_locks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    UNIQUE (repo_id, path)
);
