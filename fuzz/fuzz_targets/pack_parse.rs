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
use tessera_formats::pack::{Pack, apply_delta, write_pack};

/// The declared-size limit the server uses for pushed objects.
const MAX_OBJECT_BYTES: u64 = 512 * 1024 * 1024;

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
    let Ok(mut pack) = Pack::parse(&bytes, MAX_OBJECT_BYTES) else { return };
    let missing = pack.resolve().expect("resolving a parsed pack only names missing bases");
    if !missing.is_empty() {
        return;
    }
    let objects = pack.into_objects().expect("every delta was resolved");
    let written = write_pack(objects.iter().map(|object| (object.kind, object.data.as_slice())));
    let mut again = Pack::parse(&written, u64::MAX).expect("written packs parse");
    assert!(again.resolve().expect("no deltas").is_empty());
    assert_eq!(again.into_objects().expect("whole objects"), objects);
});
