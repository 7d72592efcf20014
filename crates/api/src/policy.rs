//! What a commit may hold, checked the same way whether it arrives by
//! `git push` or through the commit API: files stored in git itself stay
//! under 10 MiB (larger ones belong in Git LFS / Xet), and every LFS pointer
//! names an object this repo has uploaded, with the size it declares.

use tessera_db::MetadataStore;
use tessera_formats::git::{LfsPointer, parse_lfs_oid};

use crate::error::ApiResult;

/// The largest file stored in git itself (HF's limit).
pub const MAX_GIT_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// Why a file may not be committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A regular file over [`MAX_GIT_FILE_BYTES`].
    #[error(
        "{path} is {size} bytes, over the 10 MiB limit for files stored in git: track it with Git LFS \
         (git lfs track \"{path}\") and commit it again, or upload it with huggingface_hub"
    )]
    TooLarge {
        /// The file's path in the repo.
        path: String,
        /// Its size.
        size: u64,
    },
    /// An LFS pointer to an object the repo never uploaded (or of another size).
    #[error(
        "{path} is a Git LFS pointer to sha256:{oid} ({size} bytes), which this repo does not hold: \
         upload it first (git lfs push --all, or huggingface_hub)"
    )]
    MissingLfsObject {
        /// The pointer's path in the repo.
        path: String,
        /// The sha256 it names.
        oid: String,
        /// The size it declares.
        size: u64,
    },
}

/// Checks one file about to be committed at `path` in repo `repo_id`.
pub async fn check_file(
    db: &dyn MetadataStore,
    repo_id: i64,
    path: &str,
    content: &[u8],
) -> ApiResult<Option<Violation>> {
    if let Some(pointer) = LfsPointer::parse(content) {
        let held = match parse_lfs_oid(&pointer.sha256) {
            Some(digest) => db.repo_file_by_sha256(repo_id, &digest).await?,
            None => None,
        };
        if held.is_some_and(|(_, size)| size == pointer.size) {
            return Ok(None);
        }
        return Ok(Some(Violation::MissingLfsObject {
            path: path.to_owned(),
            oid: pointer.sha256,
            size: pointer.size,
        }));
    }
    let size = content.len() as u64;
    Ok((size > MAX_GIT_FILE_BYTES).then(|| Violation::TooLarge { path: path.to_owned(), size }))
}
