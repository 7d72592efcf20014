//! `tessera xet hash`: the Xet file hash, sha256, size and chunk count of
//! local files, computed exactly as `hf_xet.hash_files` does.
//!
//! Each file streams through a two-stage pipeline: this thread reads and
//! chunks (gear hash + blake3), a second thread computes sha256 on the same
//! blocks, so both cores are busy.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use anyhow::Context as _;
use sha2::Digest as _;
use tessera_formats::file::{FileDigest, FileHasher};
use tessera_formats::hash::MerkleHash;

/// Bytes read per block.
const BLOCK_LEN: usize = 8 * 1024 * 1024;
/// Blocks in flight between the reader and the sha256 thread.
const BLOCKS_IN_FLIGHT: usize = 4;

/// Hashes every file and prints one line per file.
pub fn run(files: &[PathBuf]) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let (digest, sha256) = hash_file(path).with_context(|| format!("hashing {}", path.display()))?;
        writeln!(out, "{} {} {} {} {}", digest.file_hash, sha256, digest.size, digest.chunks.len(), path.display())?;
    }
    Ok(())
}

/// The Xet digest and sha256 of one file.
///
/// Blocks circulate between the two threads: filled here, hashed by both,
/// then handed back for reuse, so no memory is allocated per block.
pub fn hash_file(path: &Path) -> anyhow::Result<(FileDigest, MerkleHash)> {
    let mut file = File::open(path)?;
    let (to_sha, sha_input) = mpsc::sync_channel::<Arc<Vec<u8>>>(BLOCKS_IN_FLIGHT);
    let (to_reader, returned) = mpsc::channel::<Arc<Vec<u8>>>();
    std::thread::scope(|scope| {
        let sha_thread = scope.spawn(move || {
            let mut sha = sha2::Sha256::new();
            for block in sha_input {
                sha.update(block.as_slice());
                // The reader may have finished; a block nobody takes back is simply dropped.
                let _ = to_reader.send(block);
            }
            MerkleHash::from_be_digest(sha.finalize().into())
        });
        let mut hasher = FileHasher::new();
        let read_result = (|| -> io::Result<()> {
            loop {
                // A block comes back once the sha256 thread is done with it and our
                // clone is gone, so it unwraps; otherwise start a fresh one.
                let mut buffer =
                    returned.try_recv().ok().and_then(|block| Arc::try_unwrap(block).ok()).unwrap_or_default();
                read_block(&mut file, &mut buffer)?;
                if buffer.is_empty() {
                    return Ok(());
                }
                let block = Arc::new(buffer);
                // The sha256 thread only stops early if it panicked; that surfaces on join.
                let _ = to_sha.send(Arc::clone(&block));
                hasher.update(&block);
            }
        })();
        drop(to_sha);
        let sha256 = sha_thread.join().map_err(|_| anyhow::anyhow!("sha256 thread panicked"))?;
        read_result?;
        Ok((hasher.finish(), sha256))
    })
}

/// Refills `buffer` with up to [`BLOCK_LEN`] bytes; empty means end of file.
fn read_block(file: &mut File, buffer: &mut Vec<u8>) -> io::Result<()> {
    buffer.clear();
    buffer.reserve(BLOCK_LEN);
    Read::by_ref(file).take(BLOCK_LEN as u64).read_to_end(buffer)?;
    Ok(())
}
