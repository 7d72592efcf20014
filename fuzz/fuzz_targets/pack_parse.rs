//! Fuzzes the git pack reader with arbitrary bytes (given a valid SHA-1
//! trailer, so the fuzzer gets past the checksum), and with arbitrary deltas
//! against an arbitrary base.
//!
//! Checks, beyond "never panics" and "never allocates without bound": every
//! pack `Pack::parse` accepts resolves without error (missing bases are
//! named, not guessed), and the objects it yields, written back as a pack,
//! read back to the same objects.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sha1::Digest as _;
use tessera_formats::pack::{Pack, PackLimits, apply_delta, write_pack};

/// Limits well under the fuzzer's RSS limit.
const LIMITS: PackLimits = PackLimits { max_object_bytes: 64 << 20, max_total_bytes: 256 << 20 };

fuzz_target!(|data: &[u8]| {
    // The first byte splits the rest into a base and a delta.
    if let Some((&split, rest)) = data.split_first() {
        let (base, delta) = rest.split_at(usize::from(split).min(rest.len()));
        if let Ok(out) = apply_delta(base, delta) {
            assert!(out.len() <= delta.len().saturating_mul(0x10000), "delta output is bounded by its instructions");
        }
    }

    let mut bytes = data.to_vec();
    bytes.extend_from_slice(&sha1::Sha1::digest(data));
    let Ok(mut pack) = Pack::parse(&bytes, LIMITS) else { return };
    let Ok(missing) = pack.resolve() else { return };
    if !missing.is_empty() {
        return;
    }
    let objects = pack.into_objects().expect("every delta was resolved");
    let written = write_pack(objects.iter().map(|object| (object.kind, object.data.as_slice())));
    let mut again = Pack::parse(&written, PackLimits::default()).expect("written packs parse");
    assert!(again.resolve().expect("no deltas").is_empty());
    assert_eq!(again.into_objects().expect("whole objects"), objects);
});
