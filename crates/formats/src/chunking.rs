//! Content-defined chunking with the gear rolling hash, as xet-core does it.
//!
//! A boundary falls after byte `i` when the chunk in progress is at least
//! [`MIN_CHUNK_SIZE`] long and `gear_hash & BOUNDARY_MASK == 0`, or when it
//! reaches [`MAX_CHUNK_SIZE`]. Since the gear hash only depends on the last 64
//! bytes, the first `MIN_CHUNK_SIZE - 65` bytes of each chunk are skipped
//! without hashing; the boundaries are the same as hashing every byte.
//!
//! [`Chunker`] is streaming: the boundaries do not depend on how the input is
//! split into pieces.

/// The average chunk size the mask aims for.
pub const TARGET_CHUNK_SIZE: usize = 64 * 1024;
/// No boundary before a chunk is this long (except at the end of the stream).
pub const MIN_CHUNK_SIZE: usize = TARGET_CHUNK_SIZE / 8;
/// A chunk is always cut at this length.
pub const MAX_CHUNK_SIZE: usize = TARGET_CHUNK_SIZE * 2;
/// The top 16 bits: a boundary matches with probability 2^-16.
pub const BOUNDARY_MASK: u64 = ((TARGET_CHUNK_SIZE - 1) as u64) << (TARGET_CHUNK_SIZE - 1).leading_zeros();

/// Bytes that determine the gear hash at any position.
const GEAR_WINDOW: usize = 64;

/// Finds chunk boundaries in a stream fed piece by piece.
#[derive(Debug, Clone)]
pub struct Chunker {
    gear: gearhash::Hasher<'static>,
    /// Length of the chunk in progress.
    pending: usize,
}

impl Default for Chunker {
    fn default() -> Self {
        Self::new()
    }
}

impl Chunker {
    /// A chunker at the start of a stream.
    pub fn new() -> Self {
        Self { gear: gearhash::Hasher::default(), pending: 0 }
    }

    /// Length of the chunk in progress, not yet ended by a boundary.
    pub fn pending_len(&self) -> usize {
        self.pending
    }

    /// Scans `data`, the next bytes of the stream.
    ///
    /// `Some(n)`: the chunk in progress ends after `data[..n]` (`n >= 1`); call
    /// again with `data[n..]`. `None`: all of `data` joined the chunk in progress.
    pub fn next_boundary(&mut self, data: &[u8]) -> Option<usize> {
        if data.is_empty() {
            return None;
        }
        let previous = self.pending;
        let mut scanned = 0;
        if previous + GEAR_WINDOW < MIN_CHUNK_SIZE {
            scanned = (MIN_CHUNK_SIZE - previous - GEAR_WINDOW - 1).min(data.len());
        }
        let scan_end = data.len().min(MAX_CHUNK_SIZE - previous);
        let mut cut = false;
        while scanned < scan_end {
            match self.gear.next_match(&data[scanned..scan_end], BOUNDARY_MASK) {
                Some(advance) => {
                    scanned += advance;
                    if previous + scanned >= MIN_CHUNK_SIZE {
                        cut = true;
                        break;
                    }
                }
                None => scanned = scan_end,
            }
        }
        if previous + scanned >= MAX_CHUNK_SIZE {
            scanned = MAX_CHUNK_SIZE - previous;
            cut = true;
        }
        if cut {
            self.gear.set_hash(0);
            self.pending = 0;
            Some(scanned)
        } else {
            self.pending += data.len();
            None
        }
    }

    /// Ends the stream: the length of the final chunk, if any bytes are pending.
    /// The chunker is then ready for a new stream.
    pub fn finish(&mut self) -> Option<usize> {
        let last = std::mem::take(&mut self.pending);
        self.gear.set_hash(0);
        (last > 0).then_some(last)
    }
}

/// The end offsets of every chunk of `data`, the last one being `data.len()`.
pub fn chunk_boundaries(data: &[u8]) -> Vec<usize> {
    let mut chunker = Chunker::new();
    let mut ends = Vec::with_capacity(data.len() / TARGET_CHUNK_SIZE + 1);
    let mut offset = 0;
    while let Some(length) = chunker.next_boundary(&data[offset..]) {
        offset += length;
        ends.push(offset);
    }
    if chunker.finish().is_some() {
        ends.push(data.len());
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_has_sixteen_top_bits() {
        assert_eq!(BOUNDARY_MASK, 0xFFFF_0000_0000_0000);
    }

    #[test]
    fn empty_stream_has_no_chunks() {
        assert!(chunk_boundaries(&[]).is_empty());
        assert_eq!(Chunker::new().finish(), None);
    }

    #[test]
    fn small_input_is_one_chunk() {
        assert_eq!(chunk_boundaries(&[7; 100]), vec![100]);
    }
}
