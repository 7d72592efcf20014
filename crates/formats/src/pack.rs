//! Git packfiles (`gitformat-pack`, version 2 and 3): reading the pack a
//! client pushes into whole objects, and writing a pack of whole objects.
//!
//! Reading happens in two steps. [`Pack::parse`] inflates every entry and
//! checks the trailing SHA-1; [`Pack::resolve`] then applies deltas. A
//! *thin* pack may have ref-deltas against objects it does not carry (the
//! server already has them): `resolve` names those, the caller looks them up
//! and hands them over with [`Pack::add_base`], and resolves again.

use std::collections::HashMap;
use std::io::Write as _;

use flate2::{Decompress, FlushDecompress, Status};
use sha1::Digest as _;

use crate::error::FormatError;
use crate::git::{ObjectId, ObjectKind};

/// A whole object from a pack, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackObject {
    /// The object id.
    pub id: ObjectId,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its content (without git's `kind len\0` header).
    pub data: Vec<u8>,
}

/// Where a delta's base is.
#[derive(Debug, Clone, Copy)]
enum Base {
    /// The entry starting at this offset of the same pack.
    Offset(u64),
    /// The object with this id, in the pack or not.
    Id(ObjectId),
}

#[derive(Debug)]
enum Entry {
    Whole { id: ObjectId, kind: ObjectKind, data: Vec<u8> },
    Delta { base: Base, delta: Vec<u8> },
}

/// A parsed pack whose deltas may still need bases.
#[derive(Debug, Default)]
pub struct Pack {
    entries: Vec<Entry>,
    /// Each entry's offset in the pack.
    offsets: Vec<u64>,
    by_offset: HashMap<u64, usize>,
    external: HashMap<ObjectId, (ObjectKind, Vec<u8>)>,
    limits: PackLimits,
    /// Bytes of whole objects so far: inflated entries plus resolved deltas.
    total_bytes: u64,
}

/// How big a pack's objects may get once inflated and resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackLimits {
    /// The largest single object, whole or as a delta's result.
    pub max_object_bytes: u64,
    /// The most bytes all whole objects of the pack may add up to.
    pub max_total_bytes: u64,
}

impl Default for PackLimits {
    fn default() -> Self {
        Self { max_object_bytes: u64::MAX, max_total_bytes: u64::MAX }
    }
}

/// What a delta waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BaseKey {
    Offset(u64),
    Id(ObjectId),
}

/// Pack type codes.
const COMMIT: u8 = 1;
const TREE: u8 = 2;
const BLOB: u8 = 3;
const TAG: u8 = 4;
const OFS_DELTA: u8 = 6;
const REF_DELTA: u8 = 7;

fn invalid(offset: u64, reason: impl Into<String>) -> FormatError {
    FormatError::InvalidPack { offset, reason: reason.into() }
}

fn kind_code(kind: ObjectKind) -> u8 {
    match kind {
        ObjectKind::Commit => COMMIT,
        ObjectKind::Tree => TREE,
        ObjectKind::Blob => BLOB,
        ObjectKind::Tag => TAG,
    }
}

impl Pack {
    /// Parses a pack, inflating every entry. An entry whose declared size
    /// exceeds the object limit, or would take the pack past its total, is
    /// refused before anything is allocated for it; so is a pack whose SHA-1
    /// trailer does not match.
    pub fn parse(bytes: &[u8], limits: PackLimits) -> Result<Self, FormatError> {
        if bytes.len() < 32 {
            return Err(invalid(0, format!("{} bytes is too short for a pack", bytes.len())));
        }
        let (body, trailer) = bytes.split_at(bytes.len() - 20);
        if &body[..4] != b"PACK" {
            return Err(invalid(0, "missing PACK signature"));
        }
        let version = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
        if version != 2 && version != 3 {
            return Err(invalid(4, format!("unsupported pack version {version}")));
        }
        let count = u32::from_be_bytes([body[8], body[9], body[10], body[11]]) as usize;
        if sha1::Sha1::digest(body).as_slice() != trailer {
            return Err(invalid(body.len() as u64, "the SHA-1 trailer does not match the content"));
        }
        // Every entry takes at least two bytes (a header and a zlib stream),
        // so a count beyond that is a lie and is refused before allocating.
        if count > body.len() / 2 {
            return Err(invalid(8, format!("{count} entries cannot fit in {} bytes", body.len())));
        }
        let mut pack = Self { entries: Vec::with_capacity(count), limits, ..Self::default() };
        let mut position = 12usize;
        for _ in 0..count {
            let start = position as u64;
            let (code, size, header_len) = entry_header(&body[position..], start)?;
            position += header_len;
            pack.count_bytes(size).map_err(|reason| invalid(start, reason))?;
            let base = match code {
                OFS_DELTA => {
                    let (distance, len) = ofs_distance(&body[position..], start)?;
                    position += len;
                    let offset = start
                        .checked_sub(distance)
                        .filter(|offset| pack.by_offset.contains_key(offset))
                        .ok_or_else(|| invalid(start, "offset delta base is not an earlier entry"))?;
                    Some(Base::Offset(offset))
                }
                REF_DELTA => {
                    let raw = body.get(position..position + 20).ok_or_else(|| invalid(start, "truncated base id"))?;
                    position += 20;
                    let mut id = [0u8; 20];
                    id.copy_from_slice(raw);
                    Some(Base::Id(ObjectId::from_bytes(id)))
                }
                COMMIT | TREE | BLOB | TAG => None,
                other => return Err(invalid(start, format!("unknown entry type {other}"))),
            };
            let (data, consumed) = inflate(&body[position..], size, start)?;
            position += consumed;
            let entry = match base {
                Some(base) => Entry::Delta { base, delta: data },
                None => {
                    let kind = match code {
                        COMMIT => ObjectKind::Commit,
                        TREE => ObjectKind::Tree,
                        BLOB => ObjectKind::Blob,
                        _ => ObjectKind::Tag,
                    };
                    Entry::Whole { id: ObjectId::for_object(kind, &data), kind, data }
                }
            };
            pack.by_offset.insert(start, pack.entries.len());
            pack.offsets.push(start);
            pack.entries.push(entry);
        }
        if position != body.len() {
            return Err(invalid(position as u64, format!("{} bytes after the last entry", body.len() - position)));
        }
        Ok(pack)
    }

    /// How many objects the pack holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pack holds no objects.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Supplies an object from outside the pack that a delta is based on.
    pub fn add_base(&mut self, id: ObjectId, kind: ObjectKind, data: Vec<u8>) {
        self.external.insert(id, (kind, data));
    }

    /// Applies every delta whose base is known. Returns the ids of the bases
    /// still missing: objects neither in the pack nor added with
    /// [`Pack::add_base`]. Empty means every object is whole. Each delta is
    /// applied once, when its base becomes whole, so long chains in any
    /// order take linear time.
    pub fn resolve(&mut self) -> Result<Vec<ObjectId>, FormatError> {
        let mut waiting: HashMap<BaseKey, Vec<usize>> = HashMap::new();
        let mut ready = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            match entry {
                Entry::Delta { base: Base::Offset(offset), .. } => {
                    waiting.entry(BaseKey::Offset(*offset)).or_default().push(index)
                }
                Entry::Delta { base: Base::Id(id), .. } => waiting.entry(BaseKey::Id(*id)).or_default().push(index),
                Entry::Whole { .. } => ready.push(index),
            }
        }
        let external: Vec<ObjectId> = self.external.keys().copied().collect();
        for id in external {
            let Some(dependents) = waiting.remove(&BaseKey::Id(id)) else { continue };
            let (kind, data) = self.external.remove(&id).unwrap_or((ObjectKind::Blob, Vec::new()));
            let applied = self.apply_all(kind, &data, &dependents);
            self.external.insert(id, (kind, data));
            ready.extend(applied?);
        }
        while let Some(index) = ready.pop() {
            let Entry::Whole { id, .. } = &self.entries[index] else { continue };
            let mut dependents = waiting.remove(&BaseKey::Offset(self.offsets[index])).unwrap_or_default();
            dependents.extend(waiting.remove(&BaseKey::Id(*id)).unwrap_or_default());
            if dependents.is_empty() {
                continue;
            }
            // Lend the base's data out while its dependents are built from it.
            let Entry::Whole { id, kind, data } =
                std::mem::replace(&mut self.entries[index], Entry::Delta { base: Base::Offset(0), delta: Vec::new() })
            else {
                continue;
            };
            let applied = self.apply_all(kind, &data, &dependents);
            self.entries[index] = Entry::Whole { id, kind, data };
            ready.extend(applied?);
        }
        let mut missing: Vec<ObjectId> = waiting
            .into_keys()
            .filter_map(|key| match key {
                BaseKey::Id(id) => Some(id),
                BaseKey::Offset(_) => None,
            })
            .collect();
        missing.sort();
        Ok(missing)
    }

    /// Builds each of `dependents` (deltas) from one base; returns them.
    fn apply_all(&mut self, kind: ObjectKind, base: &[u8], dependents: &[usize]) -> Result<Vec<usize>, FormatError> {
        for &index in dependents {
            let offset = self.offsets[index];
            let Entry::Delta { delta, .. } = &mut self.entries[index] else { continue };
            let delta = std::mem::take(delta);
            let target = delta_target_size(&delta).map_err(|reason| invalid(offset, reason))?;
            self.count_bytes(target).map_err(|reason| invalid(offset, reason))?;
            let data = apply_delta(base, &delta).map_err(|reason| invalid(offset, reason))?;
            self.entries[index] = Entry::Whole { id: ObjectId::for_object(kind, &data), kind, data };
        }
        Ok(dependents.to_vec())
    }

    /// Admits `size` more bytes of whole objects, or says which limit they break.
    fn count_bytes(&mut self, size: u64) -> Result<(), String> {
        let PackLimits { max_object_bytes, max_total_bytes } = self.limits;
        if size > max_object_bytes {
            return Err(format!("object of {size} bytes is over the {max_object_bytes}-byte limit"));
        }
        self.total_bytes = self.total_bytes.saturating_add(size);
        if self.total_bytes > max_total_bytes {
            return Err(format!("the pack's objects add up to more than {max_total_bytes} bytes"));
        }
        Ok(())
    }

    /// The whole objects, once [`Pack::resolve`] has returned no missing base.
    pub fn into_objects(self) -> Result<Vec<PackObject>, FormatError> {
        self.entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Whole { id, kind, data } => Ok(PackObject { id, kind, data }),
                Entry::Delta { .. } => Err(invalid(0, "a delta's base was never found")),
            })
            .collect()
    }
}

/// Reads an entry header: type code, inflated size, header length.
fn entry_header(bytes: &[u8], offset: u64) -> Result<(u8, u64, usize), FormatError> {
    let first = *bytes.first().ok_or_else(|| invalid(offset, "truncated entry header"))?;
    let code = (first >> 4) & 0x7;
    let mut size = u64::from(first & 0x0f);
    let mut shift = 4;
    let mut len = 1;
    let mut byte = first;
    while byte & 0x80 != 0 {
        byte = *bytes.get(len).ok_or_else(|| invalid(offset, "truncated entry header"))?;
        if shift > 57 {
            return Err(invalid(offset, "entry size does not fit 64 bits"));
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        len += 1;
    }
    Ok((code, size, len))
}

/// Reads an offset delta's distance back to its base.
fn ofs_distance(bytes: &[u8], offset: u64) -> Result<(u64, usize), FormatError> {
    let truncated = || invalid(offset, "truncated delta base offset");
    let mut byte = *bytes.first().ok_or_else(truncated)?;
    let mut distance = u64::from(byte & 0x7f);
    let mut len = 1;
    while byte & 0x80 != 0 {
        byte = *bytes.get(len).ok_or_else(truncated)?;
        distance = distance
            .checked_add(1)
            .and_then(|d| d.checked_mul(128))
            .ok_or_else(|| invalid(offset, "delta base offset overflows"))?
            | u64::from(byte & 0x7f);
        len += 1;
    }
    Ok((distance, len))
}

/// Inflates one zlib stream that must yield exactly `size` bytes; returns the
/// data and how many input bytes the stream took.
fn inflate(input: &[u8], size: u64, offset: u64) -> Result<(Vec<u8>, usize), FormatError> {
    let size = usize::try_from(size).map_err(|_| invalid(offset, "object too large for this platform"))?;
    // Never trust the declared size for the allocation alone: zlib cannot
    // expand more than about 1032:1.
    let mut out = Vec::with_capacity(size.min(input.len().saturating_mul(1032)).saturating_add(1));
    let mut stream = Decompress::new(true);
    loop {
        if out.len() == out.capacity() {
            out.reserve(64 * 1024);
        }
        let consumed = stream.total_in() as usize;
        let before = (stream.total_in(), stream.total_out());
        let status = stream
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::None)
            .map_err(|error| invalid(offset, format!("corrupt zlib data: {error}")))?;
        if out.len() > size {
            return Err(invalid(offset, format!("entry inflates past its declared {size} bytes")));
        }
        match status {
            Status::StreamEnd => break,
            _ if (stream.total_in(), stream.total_out()) == before && out.len() < out.capacity() => {
                return Err(invalid(offset, "truncated zlib data"));
            }
            _ => {}
        }
    }
    if out.len() != size {
        return Err(invalid(offset, format!("entry inflates to {} bytes, declared {size}", out.len())));
    }
    Ok((out, stream.total_in() as usize))
}

/// Reads a delta's size varint.
fn delta_size(bytes: &[u8], position: &mut usize) -> Result<usize, String> {
    let mut size = 0usize;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*position).ok_or("truncated delta header")?;
        *position += 1;
        if shift > 56 {
            return Err("delta size overflows".into());
        }
        size |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(size);
        }
    }
}

/// The size of the object a delta builds, read from its header.
fn delta_target_size(delta: &[u8]) -> Result<u64, String> {
    let mut position = 0;
    delta_size(delta, &mut position)?;
    Ok(delta_size(delta, &mut position)? as u64)
}

/// Applies a git delta (copy and insert instructions) to `source`.
pub fn apply_delta(source: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut position = 0;
    let source_size = delta_size(delta, &mut position)?;
    if source_size != source.len() {
        return Err(format!("delta expects a {source_size}-byte base, the base has {}", source.len()));
    }
    let target_size = delta_size(delta, &mut position)?;
    let mut out = Vec::with_capacity(target_size.min(delta.len().saturating_mul(64)));
    while position < delta.len() {
        let op = delta[position];
        position += 1;
        if op & 0x80 != 0 {
            let mut fields = [0usize; 7];
            for (bit, field) in fields.iter_mut().enumerate() {
                if op & (1 << bit) != 0 {
                    *field = usize::from(*delta.get(position).ok_or("truncated copy instruction")?);
                    position += 1;
                }
            }
            let start = fields[0] | fields[1] << 8 | fields[2] << 16 | fields[3] << 24;
            let mut len = fields[4] | fields[5] << 8 | fields[6] << 16;
            if len == 0 {
                len = 0x10000;
            }
            let piece = start.checked_add(len).and_then(|end| source.get(start..end)).ok_or("copy outside the base")?;
            out.extend_from_slice(piece);
        } else if op != 0 {
            let len = usize::from(op);
            let piece = delta.get(position..position + len).ok_or("truncated insert instruction")?;
            out.extend_from_slice(piece);
            position += len;
        } else {
            return Err("reserved delta instruction 0".into());
        }
        if out.len() > target_size {
            return Err("delta writes past its declared size".into());
        }
    }
    if out.len() != target_size {
        return Err(format!("delta yields {} bytes, declared {target_size}", out.len()));
    }
    Ok(out)
}

/// Appends an entry header: the type code and the inflated size.
fn write_entry_header(out: &mut Vec<u8>, code: u8, mut size: u64) {
    let mut byte = (code << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size != 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
}

/// Writes a version-2 pack of whole (undeltified) objects.
pub fn write_pack<'a>(objects: impl ExactSizeIterator<Item = (ObjectKind, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"PACK");
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&u32::try_from(objects.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (kind, data) in objects {
        write_entry_header(&mut out, kind_code(kind), data.len() as u64);
        let mut encoder = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(data);
        let _ = encoder.finish();
    }
    let digest = sha1::Sha1::digest(&out);
    out.extend_from_slice(&digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> Vec<(ObjectKind, Vec<u8>)> {
        vec![
            (ObjectKind::Blob, b"hello\n".to_vec()),
            (ObjectKind::Blob, vec![0u8; 70_000]),
            (ObjectKind::Blob, Vec::new()),
            (ObjectKind::Tree, Vec::new()),
        ]
    }

    #[test]
    fn written_packs_parse_back() {
        let objects = objects();
        let bytes = write_pack(objects.iter().map(|(kind, data)| (*kind, data.as_slice())));
        let mut pack = Pack::parse(&bytes, PackLimits::default()).unwrap();
        assert_eq!(pack.len(), 4);
        assert!(pack.resolve().unwrap().is_empty());
        let parsed = pack.into_objects().unwrap();
        for ((kind, data), object) in objects.iter().zip(&parsed) {
            assert_eq!((*kind, data), (object.kind, &object.data));
            assert_eq!(object.id, ObjectId::for_object(*kind, data));
        }
    }

    #[test]
    fn corrupt_packs_are_refused() {
        let objects = objects();
        let bytes = write_pack(objects.iter().map(|(kind, data)| (*kind, data.as_slice())));
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(Pack::parse(&flipped, PackLimits::default()).is_err());
        assert!(Pack::parse(&bytes[..bytes.len() - 1], PackLimits::default()).is_err());
        let small = PackLimits { max_object_bytes: 100, ..PackLimits::default() };
        assert!(Pack::parse(&bytes, small).is_err(), "object limit");
        let total = PackLimits { max_total_bytes: 70_005, ..PackLimits::default() };
        assert!(Pack::parse(&bytes, total).is_err(), "total limit");
    }

    /// A pack holding one blob and ref-deltas, stored last to first: each
    /// delta's base is the blob, or with `chain` the previous delta's result.
    fn delta_pack(base: &[u8], deltas: &[Vec<u8>], chain: bool) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"PACK");
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&(1 + deltas.len() as u32).to_be_bytes());
        let entry = |out: &mut Vec<u8>, code: u8, prefix: &[u8], data: &[u8]| {
            write_entry_header(out, code, data.len() as u64);
            out.extend_from_slice(prefix);
            let mut encoder = flate2::write::ZlibEncoder::new(out, flate2::Compression::fast());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap();
        };
        entry(&mut out, BLOB, &[], base);
        let base_id = ObjectId::for_object(ObjectKind::Blob, base);
        let mut previous = (base_id, base.to_vec());
        let mut chained = Vec::new();
        for delta in deltas {
            let base_for_this = if chain { previous.0 } else { base_id };
            chained.push((base_for_this, delta.clone()));
            if chain {
                let data = apply_delta(&previous.1, delta).unwrap();
                previous = (ObjectId::for_object(ObjectKind::Blob, &data), data);
            }
        }
        // Stored in reverse, so each delta's base comes after it.
        for (base, delta) in chained.iter().rev() {
            entry(&mut out, REF_DELTA, base.as_bytes(), delta);
        }
        let digest = sha1::Sha1::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    #[test]
    fn delta_results_count_against_the_limits() {
        // 64 KiB base; each 0x80 instruction copies 64 KiB: a 2 KiB delta claims 128 MiB.
        let base = vec![1u8; 0x10000];
        let copies = 2048;
        let mut delta = Vec::new();
        delta.extend_from_slice(&[0x80, 0x80, 0x04]); // base size 65536
        let mut target = (copies * 0x10000) as u64;
        loop {
            let byte = (target & 0x7f) as u8;
            target >>= 7;
            delta.push(if target != 0 { byte | 0x80 } else { byte });
            if target == 0 {
                break;
            }
        }
        delta.extend(std::iter::repeat_n(0x80u8, copies));
        let bytes = delta_pack(&base, &[delta], false);
        let limits = PackLimits { max_object_bytes: 1 << 20, max_total_bytes: 1 << 30 };
        let mut pack = Pack::parse(&bytes, limits).unwrap();
        assert!(pack.resolve().is_err(), "the delta's result is over the object limit");
        let limits = PackLimits { max_object_bytes: 1 << 30, max_total_bytes: 1 << 20 };
        let mut pack = Pack::parse(&bytes, limits).unwrap();
        assert!(pack.resolve().is_err(), "the pack's total is over its limit");
    }

    #[test]
    fn reversed_delta_chains_resolve_in_one_pass() {
        let base = b"0123456789".repeat(10);
        // Each delta appends one byte to its base.
        let deltas: Vec<Vec<u8>> = (0..3000usize)
            .map(|i| {
                let source = 100 + i;
                let mut delta = Vec::new();
                for size in [source, source + 1] {
                    let mut size = size;
                    loop {
                        let byte = (size & 0x7f) as u8;
                        size >>= 7;
                        delta.push(if size != 0 { byte | 0x80 } else { byte });
                        if size == 0 {
                            break;
                        }
                    }
                }
                // Copy the whole source (offset 0, 2-byte size), then insert one byte.
                delta.extend_from_slice(&[0x80 | 0x10 | 0x20, (source & 0xff) as u8, (source >> 8) as u8, 1, b'+']);
                delta
            })
            .collect();
        let bytes = delta_pack(&base, &deltas, true);
        let mut pack = Pack::parse(&bytes, PackLimits::default()).unwrap();
        assert!(pack.resolve().unwrap().is_empty());
        let objects = pack.into_objects().unwrap();
        assert_eq!(objects.len(), 3001);
        assert!(objects.iter().any(|object| object.data.len() == 3100));
    }

    #[test]
    fn deltas_apply() {
        let source = b"0123456789abcdef";
        // source size 16, target size 9: copy 4 bytes from offset 2, insert "xyz", copy 2 from 14.
        let delta = [16u8, 9, 0x91, 2, 4, 3, b'x', b'y', b'z', 0x91, 14, 2];
        assert_eq!(apply_delta(source, &delta).unwrap(), b"2345xyzef");
        assert!(apply_delta(source, &[16, 9, 0x91, 20, 4]).is_err(), "copy outside the base");
        assert!(apply_delta(source, &[15, 0]).is_err(), "wrong base size");
        assert!(apply_delta(source, &[16, 1, 0]).is_err(), "reserved instruction");
    }
}
