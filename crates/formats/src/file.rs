//! Whole-file hashing: chunk a byte stream, hash each chunk, and aggregate the
//! chunk hashes into the Xet file hash.

use crate::chunking::{Chunker, MAX_CHUNK_SIZE};
use crate::hash::{self, MerkleHash};

/// What the Xet protocol knows of a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// The Xet file hash.
    pub file_hash: MerkleHash,
    /// Total size in bytes.
    pub size: u64,
    /// `(chunk hash, chunk length)` in file order.
    pub chunks: Vec<(MerkleHash, u64)>,
}

/// Chunks and hashes a stream fed piece by piece.
#[derive(Debug, Default)]
pub struct FileHasher {
    chunker: Chunker,
    /// Bytes of the chunk in progress that arrived in earlier pieces.
    carry: Vec<u8>,
    chunks: Vec<(MerkleHash, u64)>,
    size: u64,
}

impl FileHasher {
    /// A hasher at the start of a file.
    pub fn new() -> Self {
        Self { carry: Vec::with_capacity(MAX_CHUNK_SIZE), ..Self::default() }
    }

    /// Feeds the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) {
        self.update_with(data, |_, _| {});
    }

    /// Feeds the next bytes of the file, handing each completed chunk (its
    /// bytes and hash) to `on_chunk`.
    pub fn update_with(&mut self, mut data: &[u8], mut on_chunk: impl FnMut(&[u8], MerkleHash)) {
        self.size += data.len() as u64;
        while let Some(length) = self.chunker.next_boundary(data) {
            let (head, rest) = data.split_at(length);
            if self.carry.is_empty() {
                self.emit(head, &mut on_chunk);
            } else {
                let mut chunk = std::mem::take(&mut self.carry);
                chunk.extend_from_slice(head);
                self.emit(&chunk, &mut on_chunk);
                chunk.clear();
                self.carry = chunk;
            }
            data = rest;
        }
        self.carry.extend_from_slice(data);
    }

    fn emit(&mut self, chunk: &[u8], on_chunk: &mut impl FnMut(&[u8], MerkleHash)) {
        let chunk_hash = hash::chunk_hash(chunk);
        self.chunks.push((chunk_hash, chunk.len() as u64));
        on_chunk(chunk, chunk_hash);
    }

    /// Ends the file and returns its digest.
    pub fn finish(self) -> FileDigest {
        self.finish_with(|_, _| {})
    }

    /// Ends the file, handing the final chunk (if any) to `on_chunk`.
    pub fn finish_with(mut self, mut on_chunk: impl FnMut(&[u8], MerkleHash)) -> FileDigest {
        if self.chunker.finish().is_some() {
            let last = std::mem::take(&mut self.carry);
            self.emit(&last, &mut on_chunk);
        }
        FileDigest { file_hash: hash::file_hash(&self.chunks), size: self.size, chunks: self.chunks }
    }
}

/// The digest of a file held in memory.
pub fn digest(data: &[u8]) -> FileDigest {
    let mut hasher = FileHasher::new();
    hasher.update(data);
    hasher.finish()
}
