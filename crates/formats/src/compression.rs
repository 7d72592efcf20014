//! Chunk compression schemes of xorbs: none, LZ4 (frame format) and
//! byte-grouping-4 followed by LZ4, with xet-core's choice between them.

use std::io::{Read, Write};

use crate::error::FormatError;

/// How a chunk's payload is stored inside a xorb (byte 4 of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CompressionScheme {
    /// Stored as is.
    None = 0,
    /// An LZ4 frame.
    Lz4 = 1,
    /// Bytes regrouped into four planes (`i mod 4`), then an LZ4 frame.
    ByteGrouping4Lz4 = 2,
}

impl TryFrom<u8> for CompressionScheme {
    type Error = u8;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Self::None),
            1 => Ok(Self::Lz4),
            2 => Ok(Self::ByteGrouping4Lz4),
            other => Err(other),
        }
    }
}

impl CompressionScheme {
    /// The scheme xet-core picks for a block of chunks, judged on its first
    /// chunk: byte grouping when the byte planes look different, LZ4 otherwise.
    pub fn choose_for(sample: &[u8]) -> Self {
        let mut predictor = Bg4Predictor::default();
        predictor.add(sample);
        if predictor.recommends_bg4() { Self::ByteGrouping4Lz4 } else { Self::Lz4 }
    }

    /// Compresses `data` with this scheme (`None` copies it).
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>, FormatError> {
        match self {
            Self::None => Ok(data.to_vec()),
            Self::Lz4 => lz4_frame(data),
            Self::ByteGrouping4Lz4 => lz4_frame(&bg4_split(data)),
        }
    }

    /// Decompresses a payload that must expand to exactly `expected_len` bytes;
    /// never produces more than that.
    pub fn decompress(self, payload: &[u8], expected_len: usize) -> Result<Vec<u8>, String> {
        let data = match self {
            Self::None => payload.to_vec(),
            Self::Lz4 => lz4_unframe(payload, expected_len)?,
            Self::ByteGrouping4Lz4 => bg4_join(&lz4_unframe(payload, expected_len)?),
        };
        if data.len() == expected_len {
            Ok(data)
        } else {
            Err(format!("decoded {} bytes, header says {expected_len}", data.len()))
        }
    }
}

fn lz4_frame(data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let compression = |e: std::io::Error| FormatError::Compression { reason: e.to_string() };
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2 + 64));
    encoder.write_all(data).map_err(compression)?;
    encoder.finish().map_err(|e| FormatError::Compression { reason: e.to_string() })
}

fn lz4_unframe(payload: &[u8], expected_len: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected_len);
    // Read one byte past the expected length so an overlong frame is noticed
    // without decoding all of it.
    lz4_flex::frame::FrameDecoder::new(payload)
        .take(expected_len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("lz4 frame: {e}"))?;
    Ok(out)
}

/// Plane sizes of byte grouping: plane `k` holds the bytes at `i ≡ k (mod 4)`.
fn plane_sizes(len: usize) -> [usize; 4] {
    std::array::from_fn(|k| len / 4 + usize::from(k < len % 4))
}

/// Regroups bytes into four planes, concatenated.
pub fn bg4_split(data: &[u8]) -> Vec<u8> {
    let sizes = plane_sizes(data.len());
    let mut out = vec![0u8; data.len()];
    let (p0, rest) = out.split_at_mut(sizes[0]);
    let (p1, rest) = rest.split_at_mut(sizes[1]);
    let (p2, p3) = rest.split_at_mut(sizes[2]);
    let mut quads = data.chunks_exact(4);
    for (i, quad) in quads.by_ref().enumerate() {
        p0[i] = quad[0];
        p1[i] = quad[1];
        p2[i] = quad[2];
        p3[i] = quad[3];
    }
    let whole = data.len() / 4;
    let planes = [p0, p1, p2];
    for (k, &byte) in quads.remainder().iter().enumerate() {
        planes[k][whole] = byte;
    }
    out
}

/// Interleaves four concatenated planes back into the original order.
pub fn bg4_join(grouped: &[u8]) -> Vec<u8> {
    let sizes = plane_sizes(grouped.len());
    let (p0, rest) = grouped.split_at(sizes[0]);
    let (p1, rest) = rest.split_at(sizes[1]);
    let (p2, p3) = rest.split_at(sizes[2]);
    let mut out = Vec::with_capacity(grouped.len());
    for i in 0..grouped.len() / 4 {
        out.extend_from_slice(&[p0[i], p1[i], p2[i], p3[i]]);
    }
    let whole = grouped.len() / 4;
    for plane in [p0, p1, p2].iter().take(grouped.len() % 4) {
        out.push(plane[whole]);
    }
    out
}

/// Predicts whether byte grouping helps: per-plane histograms of byte
/// popcounts, and the largest KL divergence of a plane from the pooled
/// histogram (with add-one smoothing of the pool) above 0.02.
#[derive(Debug, Default, Clone)]
pub struct Bg4Predictor {
    histograms: [[u32; 9]; 4],
}

impl Bg4Predictor {
    /// Counts the bytes of `data`, the first at plane 0.
    pub fn add(&mut self, data: &[u8]) {
        for (i, byte) in data.iter().enumerate() {
            self.histograms[i % 4][byte.count_ones() as usize] += 1;
        }
    }

    /// Whether byte grouping is predicted to compress better.
    ///
    /// A plane with an empty bin gives a NaN divergence (`0 · ln 0`), which
    /// `f64::max` ignores; xet-core behaves the same way.
    pub fn recommends_bg4(&self) -> bool {
        let mut pooled = [1u32; 9];
        let mut totals = [0u32; 4];
        for (plane, histogram) in self.histograms.iter().enumerate() {
            for (bin, &count) in histogram.iter().enumerate() {
                pooled[bin] += count;
                totals[plane] += count;
            }
        }
        let pooled_total: u32 = totals.iter().sum();
        let mut max_divergence = 0f64;
        for (plane, histogram) in self.histograms.iter().enumerate() {
            let mut divergence = 0f64;
            for (bin, &count) in histogram.iter().enumerate() {
                let p = f64::from(count) / f64::from(totals[plane]);
                let q = f64::from(pooled[bin]) / f64::from(pooled_total);
                divergence += p * (p / q).ln();
            }
            max_divergence = max_divergence.max(divergence);
        }
        max_divergence > 0.02
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bg4_round_trips_every_tail_length() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let grouped = bg4_split(&data);
            assert_eq!(bg4_join(&grouped), data, "len {len}");
        }
        assert_eq!(bg4_split(&[0, 1, 2, 3, 4, 5, 6, 7, 8]), vec![0, 4, 8, 1, 5, 2, 6, 3, 7]);
    }

    #[test]
    fn schemes_round_trip() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        for scheme in [CompressionScheme::None, CompressionScheme::Lz4, CompressionScheme::ByteGrouping4Lz4] {
            let payload = scheme.compress(&data).unwrap();
            assert_eq!(scheme.decompress(&payload, data.len()).unwrap(), data);
            assert!(scheme.decompress(&payload, data.len() - 1).is_err());
        }
    }

    #[test]
    fn lz4_is_the_frame_format() {
        let payload = CompressionScheme::Lz4.compress(b"hello hello hello").unwrap();
        assert_eq!(&payload[..4], &0x184D_2204u32.to_le_bytes());
    }

    #[test]
    fn predictor_prefers_bg4_for_float_like_data() {
        let floats: Vec<u8> = (0..4096).flat_map(|i| (1.0f32 + i as f32 * 1e-4).to_le_bytes()).collect();
        assert_eq!(CompressionScheme::choose_for(&floats), CompressionScheme::ByteGrouping4Lz4);
        let text = b"the quick brown fox jumps over the lazy dog. ".repeat(200);
        assert_eq!(CompressionScheme::choose_for(&text), CompressionScheme::Lz4);
    }
}
