//! Xorbs: the concatenation of up to 8192 compressed chunks, each behind an
//! 8-byte header, named by the merkle hash of its chunks.
//!
//! Clients upload xorbs without a footer. [`XorbParser`] validates such a
//! body as it streams in, keeping at most one chunk in memory, and yields the
//! [`XorbIndex`] that range reads and shard validation need. [`XorbBuilder`]
//! writes xorbs, choosing compression per block of chunks as xet-core does.

use std::ops::Range;

use crate::chunking::MAX_CHUNK_SIZE;
use crate::compression::CompressionScheme;
use crate::error::{FormatError, Result};
use crate::hash::{self, MerkleHash};

/// Length of a chunk header.
pub const CHUNK_HEADER_LEN: usize = 8;
/// Most chunks a xorb may hold.
pub const MAX_XORB_CHUNKS: usize = 8 * 1024;
/// Most uncompressed bytes a xorb may hold.
pub const MAX_XORB_BYTES: u64 = 64 * 1024 * 1024;
/// Most serialized bytes a xorb may take: every chunk stored uncompressed, plus its header.
pub const MAX_XORB_SERIALIZED_BYTES: u64 = MAX_XORB_BYTES + (MAX_XORB_CHUNKS * CHUNK_HEADER_LEN) as u64;
/// Largest payload a chunk header may declare (xet-core's reader limit).
pub const MAX_CHUNK_PAYLOAD: usize = 2 * MAX_CHUNK_SIZE;
/// How many chunks of one file share a compression choice before it is re-tested.
pub const COMPRESSION_RETEST_INTERVAL: usize = 32;

/// The 7 bytes that begin a xorb footer; a chunk header never starts with them.
const FOOTER_IDENT: &[u8; 7] = b"XETBLOB";

/// The 8-byte header in front of each chunk payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Length of the payload that follows.
    pub payload_len: u32,
    /// How the payload is compressed.
    pub scheme: CompressionScheme,
    /// Length of the chunk once decompressed.
    pub uncompressed_len: u32,
}

impl ChunkHeader {
    /// Parses and validates a header found at `offset` as chunk number `index`.
    pub fn parse(bytes: &[u8; CHUNK_HEADER_LEN], offset: u64, index: usize) -> Result<Self> {
        let invalid = |reason: String| FormatError::InvalidChunkHeader { offset, index, reason };
        if bytes[..FOOTER_IDENT.len()] == *FOOTER_IDENT {
            return Err(invalid("found a xorb footer; uploads must not carry one".into()));
        }
        if bytes[0] != 0 {
            return Err(invalid(format!("unsupported chunk version {}", bytes[0])));
        }
        let scheme = CompressionScheme::try_from(bytes[4])
            .map_err(|scheme| invalid(format!("unknown compression scheme {scheme}")))?;
        let header = Self { payload_len: u24(&bytes[1..4]), scheme, uncompressed_len: u24(&bytes[5..8]) };
        if header.uncompressed_len == 0 {
            return Err(invalid("chunk is empty".into()));
        }
        if header.uncompressed_len as usize > MAX_CHUNK_SIZE {
            return Err(invalid(format!("uncompressed length {} exceeds {MAX_CHUNK_SIZE}", header.uncompressed_len)));
        }
        if header.payload_len as usize > MAX_CHUNK_PAYLOAD {
            return Err(invalid(format!("payload length {} exceeds {MAX_CHUNK_PAYLOAD}", header.payload_len)));
        }
        if scheme == CompressionScheme::None && header.payload_len != header.uncompressed_len {
            return Err(invalid(format!(
                "uncompressed chunk declares payload {} but length {}",
                header.payload_len, header.uncompressed_len
            )));
        }
        Ok(header)
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; CHUNK_HEADER_LEN] {
        let payload = self.payload_len.to_le_bytes();
        let uncompressed = self.uncompressed_len.to_le_bytes();
        [0, payload[0], payload[1], payload[2], self.scheme as u8, uncompressed[0], uncompressed[1], uncompressed[2]]
    }

    /// Header plus payload.
    pub fn serialized_len(&self) -> usize {
        CHUNK_HEADER_LEN + self.payload_len as usize
    }
}

fn u24(bytes: &[u8]) -> u32 {
    u32::from(bytes[0]) | u32::from(bytes[1]) << 8 | u32::from(bytes[2]) << 16
}

/// Where one chunk lives in a xorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XorbChunk {
    /// Hash of the uncompressed chunk.
    pub hash: MerkleHash,
    /// Uncompressed length.
    pub uncompressed_len: u32,
    /// Offset of the chunk's header in the serialized xorb.
    pub byte_start: u64,
    /// Offset just past the chunk's payload.
    pub byte_end: u64,
    /// Offset of the chunk in the xorb's uncompressed content.
    pub uncompressed_start: u64,
}

/// A validated xorb's hash and chunk table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorbIndex {
    /// The xorb hash (merkle hash of the chunks).
    pub hash: MerkleHash,
    /// Every chunk, in order.
    pub chunks: Vec<XorbChunk>,
}

impl XorbIndex {
    /// Length of the serialized xorb.
    pub fn serialized_len(&self) -> u64 {
        self.chunks.last().map_or(0, |chunk| chunk.byte_end)
    }

    /// Length of the xorb's uncompressed content.
    pub fn uncompressed_len(&self) -> u64 {
        self.chunks.last().map_or(0, |chunk| chunk.uncompressed_start + u64::from(chunk.uncompressed_len))
    }

    /// The serialized byte range holding chunks `range` (end-exclusive), or
    /// `None` if the range is empty or out of bounds.
    pub fn byte_range(&self, range: Range<usize>) -> Option<Range<u64>> {
        if range.start >= range.end || range.end > self.chunks.len() {
            return None;
        }
        Some(self.chunks[range.start].byte_start..self.chunks[range.end - 1].byte_end)
    }

    /// `(hash, uncompressed length)` of every chunk, the merkle leaves.
    pub fn leaves(&self) -> Vec<(MerkleHash, u64)> {
        self.chunks.iter().map(|chunk| (chunk.hash, u64::from(chunk.uncompressed_len))).collect()
    }
}

/// Validates a footerless xorb fed piece by piece.
///
/// Every header is checked, every chunk decompressed and hashed, and every
/// limit enforced as the bytes arrive; memory stays at one chunk plus the index.
#[derive(Debug, Default)]
pub struct XorbParser {
    /// Bytes of an incomplete chunk carried over from earlier pieces.
    carry: Vec<u8>,
    chunks: Vec<XorbChunk>,
    offset: u64,
    uncompressed: u64,
    failure: Option<FormatError>,
}

impl XorbParser {
    /// A parser at the start of a xorb.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes accepted so far.
    pub fn bytes_seen(&self) -> u64 {
        self.offset + self.carry.len() as u64
    }

    /// Feeds the next bytes. After the first error every call returns it again.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let result = self.consume(data);
        if let Err(failure) = &result {
            self.failure = Some(failure.clone());
        }
        result
    }

    fn consume(&mut self, mut data: &[u8]) -> Result<()> {
        if self.bytes_seen() + data.len() as u64 > MAX_XORB_SERIALIZED_BYTES {
            return Err(FormatError::XorbTooLarge {
                reason: format!("more than {MAX_XORB_SERIALIZED_BYTES} serialized bytes"),
            });
        }
        if !self.carry.is_empty() {
            let mut carry = std::mem::take(&mut self.carry);
            let header_missing = CHUNK_HEADER_LEN.saturating_sub(carry.len()).min(data.len());
            carry.extend_from_slice(&data[..header_missing]);
            data = &data[header_missing..];
            if carry.len() < CHUNK_HEADER_LEN {
                self.carry = carry;
                return Ok(());
            }
            let header = self.header_at(&carry)?;
            let missing = (header.serialized_len() - carry.len()).min(data.len());
            carry.extend_from_slice(&data[..missing]);
            data = &data[missing..];
            if carry.len() < header.serialized_len() {
                self.carry = carry;
                return Ok(());
            }
            self.accept_chunk(header, &carry)?;
            carry.clear();
            self.carry = carry;
        }
        while data.len() >= CHUNK_HEADER_LEN {
            let header = self.header_at(data)?;
            if data.len() < header.serialized_len() {
                break;
            }
            let (chunk, rest) = data.split_at(header.serialized_len());
            self.accept_chunk(header, chunk)?;
            data = rest;
        }
        self.carry.extend_from_slice(data);
        Ok(())
    }

    fn header_at(&self, bytes: &[u8]) -> Result<ChunkHeader> {
        let mut header = [0u8; CHUNK_HEADER_LEN];
        header.copy_from_slice(&bytes[..CHUNK_HEADER_LEN]);
        let index = self.chunks.len();
        if index >= MAX_XORB_CHUNKS {
            return Err(FormatError::XorbTooLarge { reason: format!("more than {MAX_XORB_CHUNKS} chunks") });
        }
        let header = ChunkHeader::parse(&header, self.offset, index)?;
        if self.uncompressed + u64::from(header.uncompressed_len) > MAX_XORB_BYTES {
            return Err(FormatError::XorbTooLarge { reason: format!("more than {MAX_XORB_BYTES} uncompressed bytes") });
        }
        Ok(header)
    }

    /// Decodes and records one whole serialized chunk (header included).
    fn accept_chunk(&mut self, header: ChunkHeader, serialized: &[u8]) -> Result<()> {
        let index = self.chunks.len();
        let data = header
            .scheme
            .decompress(&serialized[CHUNK_HEADER_LEN..], header.uncompressed_len as usize)
            .map_err(|reason| FormatError::CorruptChunk { offset: self.offset, index, reason })?;
        let byte_start = self.offset;
        self.offset += serialized.len() as u64;
        self.chunks.push(XorbChunk {
            hash: hash::chunk_hash(&data),
            uncompressed_len: header.uncompressed_len,
            byte_start,
            byte_end: self.offset,
            uncompressed_start: self.uncompressed,
        });
        self.uncompressed += u64::from(header.uncompressed_len);
        Ok(())
    }

    /// Ends the xorb: fails if a chunk is incomplete or there are none.
    pub fn finish(self) -> Result<XorbIndex> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if !self.carry.is_empty() {
            let needed = if self.carry.len() < CHUNK_HEADER_LEN {
                CHUNK_HEADER_LEN - self.carry.len()
            } else {
                let mut header = [0u8; CHUNK_HEADER_LEN];
                header.copy_from_slice(&self.carry[..CHUNK_HEADER_LEN]);
                ChunkHeader::parse(&header, self.offset, self.chunks.len())?.serialized_len() - self.carry.len()
            };
            return Err(FormatError::Truncated { what: "xorb chunk", offset: self.offset, needed: needed as u64 });
        }
        if self.chunks.is_empty() {
            return Err(FormatError::EmptyXorb);
        }
        let leaves: Vec<_> = self.chunks.iter().map(|c| (c.hash, u64::from(c.uncompressed_len))).collect();
        Ok(XorbIndex { hash: hash::xorb_hash(&leaves), chunks: self.chunks })
    }
}

/// Validates a whole footerless xorb.
pub fn parse_xorb(body: &[u8]) -> Result<XorbIndex> {
    let mut parser = XorbParser::new();
    parser.update(body)?;
    parser.finish()
}

/// Validates a whole footerless xorb uploaded under `expected`.
pub fn verify_xorb(body: &[u8], expected: &MerkleHash) -> Result<XorbIndex> {
    let index = parse_xorb(body)?;
    if index.hash != *expected {
        return Err(FormatError::XorbHashMismatch { expected: *expected, computed: index.hash });
    }
    Ok(index)
}

/// Decodes a run of whole serialized chunks (as read with
/// [`XorbIndex::byte_range`]) into their uncompressed bytes.
pub fn decode_chunks(serialized: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    let mut index = 0usize;
    while offset < serialized.len() {
        let rest = &serialized[offset..];
        if rest.len() < CHUNK_HEADER_LEN {
            return Err(FormatError::Truncated {
                what: "chunk header",
                offset: offset as u64,
                needed: (CHUNK_HEADER_LEN - rest.len()) as u64,
            });
        }
        let mut header = [0u8; CHUNK_HEADER_LEN];
        header.copy_from_slice(&rest[..CHUNK_HEADER_LEN]);
        let header = ChunkHeader::parse(&header, offset as u64, index)?;
        if rest.len() < header.serialized_len() {
            return Err(FormatError::Truncated {
                what: "chunk payload",
                offset: offset as u64,
                needed: (header.serialized_len() - rest.len()) as u64,
            });
        }
        let payload = &rest[CHUNK_HEADER_LEN..header.serialized_len()];
        let data = header
            .scheme
            .decompress(payload, header.uncompressed_len as usize)
            .map_err(|reason| FormatError::CorruptChunk { offset: offset as u64, index, reason })?;
        out.extend_from_slice(&data);
        offset += header.serialized_len();
        index += 1;
    }
    Ok(out)
}

/// Appends one chunk, compressed with `scheme` unless that does not make it
/// strictly smaller; returns the header written.
pub fn serialize_chunk(data: &[u8], scheme: CompressionScheme, out: &mut Vec<u8>) -> Result<ChunkHeader> {
    let compressed = match scheme {
        CompressionScheme::None => None,
        scheme => Some(scheme.compress(data)?).filter(|payload| payload.len() < data.len()),
    };
    let (scheme, payload) = match &compressed {
        Some(payload) => (scheme, payload.as_slice()),
        None => (CompressionScheme::None, data),
    };
    let header = ChunkHeader { payload_len: payload.len() as u32, scheme, uncompressed_len: data.len() as u32 };
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    Ok(header)
}

/// A serialized xorb and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializedXorb {
    /// The footerless body, as uploaded.
    pub bytes: Vec<u8>,
    /// Its hash and chunk table.
    pub index: XorbIndex,
}

/// Packs chunks into a xorb, choosing compression as xet-core does: within
/// each file's run of chunks, the first chunk of every block of
/// [`COMPRESSION_RETEST_INTERVAL`] decides between LZ4 and BG4-LZ4 for the block.
#[derive(Debug, Default)]
pub struct XorbBuilder {
    bytes: Vec<u8>,
    chunks: Vec<XorbChunk>,
    uncompressed: u64,
    block_scheme: Option<CompressionScheme>,
    block_remaining: usize,
}

impl XorbBuilder {
    /// An empty xorb.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the start of another file's chunks: the next chunk re-tests compression.
    pub fn start_file(&mut self) {
        self.block_remaining = 0;
    }

    /// Whether a chunk of `len` bytes still fits under the xorb limits.
    pub fn fits(&self, len: usize) -> bool {
        self.chunks.len() < MAX_XORB_CHUNKS && self.uncompressed + len as u64 <= MAX_XORB_BYTES
    }

    /// Number of chunks so far.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no chunk was added yet.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Adds a chunk (1..=128 KiB) and returns its index in the xorb.
    pub fn add_chunk(&mut self, data: &[u8]) -> Result<usize> {
        if data.is_empty() || data.len() > MAX_CHUNK_SIZE {
            return Err(FormatError::XorbTooLarge {
                reason: format!("chunk of {} bytes is outside 1..={MAX_CHUNK_SIZE}", data.len()),
            });
        }
        if !self.fits(data.len()) {
            return Err(FormatError::XorbTooLarge { reason: "xorb is full".into() });
        }
        let scheme = match self.block_scheme {
            Some(scheme) if self.block_remaining > 0 => scheme,
            _ => {
                self.block_remaining = COMPRESSION_RETEST_INTERVAL;
                *self.block_scheme.insert(CompressionScheme::choose_for(data))
            }
        };
        self.block_remaining -= 1;
        let byte_start = self.bytes.len() as u64;
        serialize_chunk(data, scheme, &mut self.bytes)?;
        self.chunks.push(XorbChunk {
            hash: hash::chunk_hash(data),
            uncompressed_len: data.len() as u32,
            byte_start,
            byte_end: self.bytes.len() as u64,
            uncompressed_start: self.uncompressed,
        });
        self.uncompressed += data.len() as u64;
        Ok(self.chunks.len() - 1)
    }

    /// The finished xorb; fails if it holds no chunk.
    pub fn finish(self) -> Result<SerializedXorb> {
        if self.chunks.is_empty() {
            return Err(FormatError::EmptyXorb);
        }
        let leaves: Vec<_> = self.chunks.iter().map(|c| (c.hash, u64::from(c.uncompressed_len))).collect();
        let index = XorbIndex { hash: hash::xorb_hash(&leaves), chunks: self.chunks };
        Ok(SerializedXorb { bytes: self.bytes, index })
    }
}
