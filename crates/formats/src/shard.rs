//! Shards (MDB files): the file-reconstruction and xorb-content metadata that
//! clients upload after their xorbs, and that the server answers global dedup
//! queries with.
//!
//! Layout: a 48-byte header, the file-info section, the xorb-info section
//! (each of 48-byte records closed by a bookend), then — only in complete
//! shards — lookup tables and a 200-byte footer. [`parse_shard`] reads upload
//! shards with or without a footer; [`Shard::to_upload_bytes`] and
//! [`Shard::to_complete_bytes`] write them.

use crate::error::{FormatError, Result};
use crate::hash::MerkleHash;

/// Size of every record in a shard.
pub const RECORD_LEN: usize = 48;
/// Size of the footer of a complete shard.
pub const FOOTER_LEN: usize = 200;
/// Largest shard body accepted.
pub const MAX_SHARD_BYTES: usize = 64 * 1024 * 1024;
/// The header tag that identifies a shard.
pub const HEADER_TAG: [u8; 32] = [
    b'H', b'F', b'R', b'e', b'p', b'o', b'M', b'e', b't', b'a', b'D', b'a', b't', b'a', 0, 85, 105, 103, 69, 106, 123,
    129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169,
];
/// Header version written and accepted.
pub const HEADER_VERSION: u64 = 2;
/// Footer version written and accepted.
pub const FOOTER_VERSION: u64 = 1;
/// File flag: verification entries follow the terms.
pub const FILE_FLAG_VERIFICATION: u32 = 1 << 31;
/// File flag: a metadata extension (sha256) follows.
pub const FILE_FLAG_METADATA_EXT: u32 = 1 << 30;
/// Chunk flag: index this chunk for global dedup.
pub const CHUNK_FLAG_GLOBAL_DEDUP: u32 = 1 << 31;

/// One term of a file: a chunk range of one xorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTerm {
    /// The xorb holding the chunks.
    pub xorb_hash: MerkleHash,
    /// Flags of the entry (0 from clients).
    pub xorb_flags: u32,
    /// Uncompressed bytes of the chunk range.
    pub unpacked_bytes: u32,
    /// First chunk index.
    pub chunk_start: u32,
    /// Chunk index just past the range.
    pub chunk_end: u32,
}

/// How one file is reconstructed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The Xet file hash.
    pub file_hash: MerkleHash,
    /// The terms, in file order.
    pub terms: Vec<FileTerm>,
    /// One verification (range) hash per term, when present.
    pub verification: Option<Vec<MerkleHash>>,
    /// The file's sha256 in shard byte order (see [`MerkleHash::from_be_digest`]), when present.
    pub sha256: Option<MerkleHash>,
}

impl FileEntry {
    /// Total uncompressed size of the file.
    pub fn size(&self) -> u64 {
        self.terms.iter().map(|term| u64::from(term.unpacked_bytes)).sum()
    }

    fn flags(&self) -> u32 {
        let mut flags = 0;
        if self.verification.is_some() {
            flags |= FILE_FLAG_VERIFICATION;
        }
        if self.sha256.is_some() {
            flags |= FILE_FLAG_METADATA_EXT;
        }
        flags
    }

    /// Records this entry occupies.
    fn record_count(&self) -> usize {
        1 + self.terms.len() + self.verification.as_ref().map_or(0, Vec::len) + usize::from(self.sha256.is_some())
    }
}

/// One chunk listed in a xorb entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XorbChunkEntry {
    /// The chunk hash (keyed with the HMAC key in dedup answers).
    pub hash: MerkleHash,
    /// Offset of the chunk in the xorb's uncompressed content.
    pub byte_start: u32,
    /// Uncompressed length.
    pub len: u32,
    /// Flags ([`CHUNK_FLAG_GLOBAL_DEDUP`]).
    pub flags: u32,
}

/// The chunk list of one xorb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorbEntry {
    /// The xorb hash.
    pub xorb_hash: MerkleHash,
    /// Flags of the entry (0 from clients).
    pub xorb_flags: u32,
    /// Σ uncompressed chunk lengths.
    pub num_bytes: u32,
    /// Serialized length (hf_xet writes 0; not validated).
    pub num_bytes_on_disk: u32,
    /// The chunks in xorb order.
    pub chunks: Vec<XorbChunkEntry>,
}

impl From<&crate::xorb::XorbIndex> for XorbEntry {
    /// The shard description of a validated xorb (serialized size included, chunk flags clear).
    fn from(index: &crate::xorb::XorbIndex) -> Self {
        Self {
            xorb_hash: index.hash,
            xorb_flags: 0,
            num_bytes: index.uncompressed_len() as u32,
            num_bytes_on_disk: index.serialized_len() as u32,
            chunks: index
                .chunks
                .iter()
                .map(|chunk| XorbChunkEntry {
                    hash: chunk.hash,
                    byte_start: chunk.uncompressed_start as u32,
                    len: chunk.uncompressed_len,
                    flags: 0,
                })
                .collect(),
        }
    }
}

/// The footer of a complete shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShardFooter {
    /// Offset of the file-info section.
    pub file_info_offset: u64,
    /// Offset of the xorb-info section.
    pub xorb_info_offset: u64,
    /// Offset of the file lookup table.
    pub file_lookup_offset: u64,
    /// Entries of the file lookup table.
    pub file_lookup_count: u64,
    /// Offset of the xorb lookup table.
    pub xorb_lookup_offset: u64,
    /// Entries of the xorb lookup table.
    pub xorb_lookup_count: u64,
    /// Offset of the chunk lookup table.
    pub chunk_lookup_offset: u64,
    /// Entries of the chunk lookup table.
    pub chunk_lookup_count: u64,
    /// Key the xorb-section chunk hashes are keyed with (zero: none).
    pub chunk_hash_hmac_key: MerkleHash,
    /// Creation time, unix seconds.
    pub creation_timestamp: u64,
    /// Time after which clients drop the shard, unix seconds.
    pub key_expiry: u64,
    /// Σ serialized xorb lengths.
    pub stored_bytes_on_disk: u64,
    /// Σ file sizes.
    pub materialized_bytes: u64,
    /// Σ uncompressed xorb lengths.
    pub stored_bytes: u64,
    /// Offset of the footer itself.
    pub footer_offset: u64,
}

/// A parsed shard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shard {
    /// File-info section, in order (a file hash may repeat).
    pub files: Vec<FileEntry>,
    /// Xorb-info section, in order.
    pub xorbs: Vec<XorbEntry>,
    /// The footer, when the shard carries one.
    pub footer: Option<ShardFooter>,
}

/// What a complete shard's footer says beyond its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FooterOptions {
    /// Key the written chunk hashes with this (dedup answers); `None` writes them plain.
    pub hmac_key: Option<MerkleHash>,
    /// Creation time, unix seconds.
    pub creation_timestamp: u64,
    /// Expiry, unix seconds.
    pub key_expiry: u64,
}

// ---- reading ----

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < len {
            return Err(FormatError::Truncated {
                what,
                offset: self.offset as u64,
                needed: (len - self.remaining()) as u64,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    fn record(&mut self, what: &'static str) -> Result<Record<'a>> {
        Ok(Record { bytes: self.take(RECORD_LEN, what)? })
    }

    fn invalid(&self, reason: impl Into<String>) -> FormatError {
        FormatError::InvalidShard { offset: self.offset as u64, reason: reason.into() }
    }

    /// Fails unless `count` more records can still follow.
    fn expect_records(&self, count: usize, what: &str) -> Result<()> {
        if count.saturating_mul(RECORD_LEN) > self.remaining() {
            return Err(self.invalid(format!("{what} declares {count} records, more than the shard holds")));
        }
        Ok(())
    }
}

/// One 48-byte record.
struct Record<'a> {
    bytes: &'a [u8],
}

impl Record<'_> {
    fn hash(&self) -> MerkleHash {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&self.bytes[..32]);
        MerkleHash::from_bytes(raw)
    }

    fn u32_at(&self, at: usize) -> u32 {
        let mut word = [0u8; 4];
        word.copy_from_slice(&self.bytes[at..at + 4]);
        u32::from_le_bytes(word)
    }

    fn is_bookend(&self) -> bool {
        self.hash() == MerkleHash::MARKER
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Parses a shard: header, file-info section, xorb-info section, and — when
/// the header announces one — lookup tables and footer. Nothing may follow.
pub fn parse_shard(bytes: &[u8]) -> Result<Shard> {
    if bytes.len() > MAX_SHARD_BYTES {
        return Err(FormatError::ShardTooLarge { reason: format!("{} bytes, limit {MAX_SHARD_BYTES}", bytes.len()) });
    }
    let mut reader = Reader { bytes, offset: 0 };
    let header = reader.take(RECORD_LEN, "shard header")?;
    if header[..32] != HEADER_TAG {
        return Err(FormatError::InvalidShard { offset: 0, reason: "not a shard (wrong header tag)".into() });
    }
    let version = u64_at(header, 32);
    if version != HEADER_VERSION {
        return Err(FormatError::InvalidShard { offset: 32, reason: format!("unsupported header version {version}") });
    }
    let footer_size = u64_at(header, 40);
    if footer_size != 0 && footer_size != FOOTER_LEN as u64 {
        return Err(FormatError::InvalidShard { offset: 40, reason: format!("unsupported footer size {footer_size}") });
    }

    let files = parse_file_section(&mut reader)?;
    let xorbs = parse_xorb_section(&mut reader)?;

    let footer = if footer_size == 0 {
        if reader.remaining() != 0 {
            return Err(reader.invalid(format!("{} unexpected bytes after the xorb section", reader.remaining())));
        }
        None
    } else {
        Some(parse_footer(&reader)?)
    };
    Ok(Shard { files, xorbs, footer })
}

fn parse_file_section(reader: &mut Reader<'_>) -> Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    let mut with_verification = None;
    loop {
        let header = reader.record("file header")?;
        if header.is_bookend() {
            return Ok(files);
        }
        let flags = header.u32_at(32);
        let term_count = header.u32_at(36) as usize;
        let has_verification = flags & FILE_FLAG_VERIFICATION != 0;
        if *with_verification.get_or_insert(has_verification) != has_verification {
            return Err(reader.invalid("only some files carry verification entries"));
        }
        let extra = usize::from(has_verification) * term_count + usize::from(flags & FILE_FLAG_METADATA_EXT != 0);
        reader.expect_records(term_count.saturating_add(extra), "file entry")?;

        let mut terms = Vec::with_capacity(term_count);
        for _ in 0..term_count {
            let record = reader.record("file term")?;
            let term = FileTerm {
                xorb_hash: record.hash(),
                xorb_flags: record.u32_at(32),
                unpacked_bytes: record.u32_at(36),
                chunk_start: record.u32_at(40),
                chunk_end: record.u32_at(44),
            };
            if term.chunk_start >= term.chunk_end {
                return Err(
                    reader.invalid(format!("term chunk range {}..{} is empty", term.chunk_start, term.chunk_end))
                );
            }
            terms.push(term);
        }
        let verification = if has_verification {
            let mut hashes = Vec::with_capacity(term_count);
            for _ in 0..term_count {
                hashes.push(reader.record("verification entry")?.hash());
            }
            Some(hashes)
        } else {
            None
        };
        let sha256 =
            if flags & FILE_FLAG_METADATA_EXT != 0 { Some(reader.record("metadata extension")?.hash()) } else { None };
        files.push(FileEntry { file_hash: header.hash(), terms, verification, sha256 });
    }
}

fn parse_xorb_section(reader: &mut Reader<'_>) -> Result<Vec<XorbEntry>> {
    let mut xorbs = Vec::new();
    loop {
        let header = reader.record("xorb header")?;
        if header.is_bookend() {
            return Ok(xorbs);
        }
        let chunk_count = header.u32_at(36) as usize;
        reader.expect_records(chunk_count, "xorb entry")?;
        let mut chunks = Vec::with_capacity(chunk_count);
        for _ in 0..chunk_count {
            let record = reader.record("xorb chunk")?;
            chunks.push(XorbChunkEntry {
                hash: record.hash(),
                byte_start: record.u32_at(32),
                len: record.u32_at(36),
                flags: record.u32_at(40),
            });
        }
        xorbs.push(XorbEntry {
            xorb_hash: header.hash(),
            xorb_flags: header.u32_at(32),
            num_bytes: header.u32_at(40),
            num_bytes_on_disk: header.u32_at(44),
            chunks,
        });
    }
}

fn parse_footer(reader: &Reader<'_>) -> Result<ShardFooter> {
    let bytes = reader.bytes;
    let sections_end = reader.offset;
    if reader.remaining() < FOOTER_LEN {
        return Err(FormatError::Truncated {
            what: "shard footer",
            offset: sections_end as u64,
            needed: (FOOTER_LEN - reader.remaining()) as u64,
        });
    }
    let footer_offset = bytes.len() - FOOTER_LEN;
    let raw = &bytes[footer_offset..];
    let field = |at: usize| u64_at(raw, at);
    let invalid = |reason: String| FormatError::InvalidShard { offset: footer_offset as u64, reason };
    if field(0) != FOOTER_VERSION {
        return Err(invalid(format!("unsupported footer version {}", field(0))));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[72..104]);
    let footer = ShardFooter {
        file_info_offset: field(8),
        xorb_info_offset: field(16),
        file_lookup_offset: field(24),
        file_lookup_count: field(32),
        xorb_lookup_offset: field(40),
        xorb_lookup_count: field(48),
        chunk_lookup_offset: field(56),
        chunk_lookup_count: field(64),
        chunk_hash_hmac_key: MerkleHash::from_bytes(key),
        creation_timestamp: field(104),
        key_expiry: field(112),
        stored_bytes_on_disk: field(168),
        materialized_bytes: field(176),
        stored_bytes: field(184),
        footer_offset: field(192),
    };
    // hf.js writes zero offsets; a footer that does name its own offset must be right.
    if footer.footer_offset != 0 && footer.footer_offset != footer_offset as u64 {
        return Err(invalid(format!("footer says it starts at {}, found at {footer_offset}", footer.footer_offset)));
    }
    let table_bytes = footer_offset - sections_end;
    let declared = footer
        .file_lookup_count
        .saturating_add(footer.xorb_lookup_count)
        .saturating_mul(12)
        .saturating_add(footer.chunk_lookup_count.saturating_mul(16));
    if declared != table_bytes as u64 && !(table_bytes == 0 && footer.footer_offset == 0) {
        return Err(invalid(format!(
            "{table_bytes} bytes between sections and footer, lookup tables declare {declared}"
        )));
    }
    Ok(footer)
}

// ---- writing ----

fn push_record(out: &mut Vec<u8>, hash: &MerkleHash, words: [u32; 4]) {
    out.extend_from_slice(hash.as_bytes());
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

fn push_bookend(out: &mut Vec<u8>) {
    push_record(out, &MerkleHash::MARKER, [0; 4]);
}

impl Shard {
    /// Writes header and both sections; returns where the xorb section starts
    /// and the lookup entries `(key, record index)` of files, xorbs and chunks.
    fn write_sections(&self, out: &mut Vec<u8>, footer_size: u64, hmac_key: Option<&MerkleHash>) -> Lookups {
        out.extend_from_slice(&HEADER_TAG);
        out.extend_from_slice(&HEADER_VERSION.to_le_bytes());
        out.extend_from_slice(&footer_size.to_le_bytes());

        let mut lookups = Lookups::default();
        let mut record_index = 0u32;
        for file in &self.files {
            lookups.files.push((file.file_hash.truncated(), record_index));
            record_index += file.record_count() as u32;
            push_record(out, &file.file_hash, [file.flags(), file.terms.len() as u32, 0, 0]);
            for term in &file.terms {
                push_record(
                    out,
                    &term.xorb_hash,
                    [term.xorb_flags, term.unpacked_bytes, term.chunk_start, term.chunk_end],
                );
            }
            for range_hash in file.verification.iter().flatten() {
                push_record(out, range_hash, [0; 4]);
            }
            if let Some(sha256) = &file.sha256 {
                push_record(out, sha256, [0; 4]);
            }
        }
        push_bookend(out);

        lookups.xorb_info_offset = out.len() as u64;
        let mut record_index = 0u32;
        for xorb in &self.xorbs {
            lookups.xorbs.push((xorb.xorb_hash.truncated(), record_index));
            push_record(
                out,
                &xorb.xorb_hash,
                [xorb.xorb_flags, xorb.chunks.len() as u32, xorb.num_bytes, xorb.num_bytes_on_disk],
            );
            for (position, chunk) in xorb.chunks.iter().enumerate() {
                let hash = hmac_key.map_or(chunk.hash, |key| chunk.hash.hmac(key));
                lookups.chunks.push((hash.truncated(), record_index, position as u32));
                push_record(out, &hash, [chunk.byte_start, chunk.len, chunk.flags, 0]);
            }
            record_index += 1 + xorb.chunks.len() as u32;
        }
        push_bookend(out);
        lookups
    }

    /// The shard as hf_xet uploads it: header and sections, no footer.
    pub fn to_upload_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.record_estimate());
        self.write_sections(&mut out, 0, None);
        out
    }

    /// A complete shard with lookup tables and footer, as stored shards and
    /// global dedup answers must be. With an HMAC key, the xorb-section chunk
    /// hashes (and the chunk lookup table) are keyed.
    pub fn to_complete_bytes(&self, options: &FooterOptions) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.record_estimate() + FOOTER_LEN);
        let hmac_key = options.hmac_key.filter(|key| *key != MerkleHash::ZERO);
        let mut lookups = self.write_sections(&mut out, FOOTER_LEN as u64, hmac_key.as_ref());
        lookups.files.sort_by_key(|&(key, _)| key);
        lookups.xorbs.sort_by_key(|&(key, _)| key);
        lookups.chunks.sort_by_key(|&(key, _, _)| key);

        let mut footer = ShardFooter {
            file_info_offset: RECORD_LEN as u64,
            xorb_info_offset: lookups.xorb_info_offset,
            chunk_hash_hmac_key: hmac_key.unwrap_or_default(),
            creation_timestamp: options.creation_timestamp,
            key_expiry: options.key_expiry,
            stored_bytes_on_disk: self.xorbs.iter().map(|x| u64::from(x.num_bytes_on_disk)).sum(),
            materialized_bytes: self.files.iter().map(FileEntry::size).sum(),
            stored_bytes: self.xorbs.iter().map(|x| u64::from(x.num_bytes)).sum(),
            ..ShardFooter::default()
        };
        footer.file_lookup_offset = out.len() as u64;
        footer.file_lookup_count = lookups.files.len() as u64;
        for (key, index) in &lookups.files {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&index.to_le_bytes());
        }
        footer.xorb_lookup_offset = out.len() as u64;
        footer.xorb_lookup_count = lookups.xorbs.len() as u64;
        for (key, index) in &lookups.xorbs {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&index.to_le_bytes());
        }
        footer.chunk_lookup_offset = out.len() as u64;
        footer.chunk_lookup_count = lookups.chunks.len() as u64;
        for (key, xorb_index, position) in &lookups.chunks {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&xorb_index.to_le_bytes());
            out.extend_from_slice(&position.to_le_bytes());
        }
        footer.footer_offset = out.len() as u64;
        write_footer(&mut out, &footer);
        out
    }

    fn record_estimate(&self) -> usize {
        let file_records: usize = self.files.iter().map(FileEntry::record_count).sum();
        let xorb_records: usize = self.xorbs.iter().map(|x| 1 + x.chunks.len()).sum();
        (3 + file_records + xorb_records) * RECORD_LEN
    }
}

#[derive(Default)]
struct Lookups {
    xorb_info_offset: u64,
    files: Vec<(u64, u32)>,
    xorbs: Vec<(u64, u32)>,
    chunks: Vec<(u64, u32, u32)>,
}

fn write_footer(out: &mut Vec<u8>, footer: &ShardFooter) {
    let words_before_key = [
        FOOTER_VERSION,
        footer.file_info_offset,
        footer.xorb_info_offset,
        footer.file_lookup_offset,
        footer.file_lookup_count,
        footer.xorb_lookup_offset,
        footer.xorb_lookup_count,
        footer.chunk_lookup_offset,
        footer.chunk_lookup_count,
    ];
    for word in words_before_key {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(footer.chunk_hash_hmac_key.as_bytes());
    let words_after_key = [
        footer.creation_timestamp,
        footer.key_expiry,
        0,
        0,
        0,
        0,
        0,
        0,
        footer.stored_bytes_on_disk,
        footer.materialized_bytes,
        footer.stored_bytes,
        footer.footer_offset,
    ];
    for word in words_after_key {
        out.extend_from_slice(&word.to_le_bytes());
    }
}
