//! Fuzzes the footerless-xorb validators with arbitrary bytes.
//!
//! Checks, beyond "never panics":
//! - `XorbParser` fed in pieces (split points taken from the first input
//!   bytes) agrees with one-shot `parse_xorb`: both `Ok` with the same index,
//!   or both `Err`;
//! - for an accepted xorb, `verify_xorb` accepts it under its own hash, the
//!   index covers the whole input, `decode_chunks` decodes the whole input to
//!   `uncompressed_len()` bytes, and decoding any chunk range read with
//!   `byte_range` gives the matching slice of that output.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_formats::hash;
use tessera_formats::xorb::{XorbIndex, XorbParser, decode_chunks, parse_xorb, verify_xorb};

fuzz_target!(|data: &[u8]| {
    let one_shot = parse_xorb(data);
    let streamed = parse_streamed(data);
    match (&one_shot, &streamed) {
        (Ok(whole), Ok(pieces)) => assert_eq!(whole, pieces, "streamed index differs from one-shot index"),
        (Err(_), Err(_)) => {}
        (whole, pieces) => panic!("one-shot {whole:?} but streamed {pieces:?}"),
    }

    let decoded = decode_chunks(data);
    if let Ok(index) = one_shot {
        check_accepted(data, &index, decoded);
    }
});

/// Feeds `data` to a `XorbParser` in pieces: a first piece whose length comes
/// from bytes 0..2, then the rest in pieces of a length taken from byte 2
/// (0: all at once). Checks `bytes_seen` along the way.
fn parse_streamed(data: &[u8]) -> tessera_formats::Result<XorbIndex> {
    let first = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])) % (data.len() + 1),
        [a] => usize::from(*a) % 2,
        [] => 0,
    };
    let step = match data.get(2) {
        Some(&0) | None => data.len().max(1),
        Some(&step) => usize::from(step),
    };
    let (head, tail) = data.split_at(first);
    let mut parser = XorbParser::new();
    let mut fed = 0u64;
    for piece in std::iter::once(head).chain(tail.chunks(step)) {
        if parser.update(piece).is_err() {
            // Every later call must repeat the failure.
            assert!(parser.update(&[]).is_err(), "parser forgot its failure");
            return parser.finish();
        }
        fed += piece.len() as u64;
        assert_eq!(parser.bytes_seen(), fed, "bytes_seen does not count what was fed");
    }
    parser.finish()
}

fn check_accepted(data: &[u8], index: &XorbIndex, decoded: tessera_formats::Result<Vec<u8>>) {
    let n = index.chunks.len();
    assert!(n > 0, "accepted an empty xorb");
    assert_eq!(verify_xorb(data, &index.hash).as_ref(), Ok(index), "verify_xorb rejects the xorb's own hash");
    assert_eq!(index.serialized_len(), data.len() as u64);
    assert_eq!(index.byte_range(0..n), Some(0..data.len() as u64), "index does not cover the input");
    assert_eq!(index.byte_range(0..n + 1), None);
    assert_eq!(index.byte_range(n..n), None);

    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(err) => panic!("parse_xorb accepted what decode_chunks rejects: {err}"),
    };
    assert_eq!(decoded.len() as u64, index.uncompressed_len());

    let leaves = index.leaves();
    assert_eq!(hash::xorb_hash(&leaves), index.hash);

    // The chunk table is contiguous, in both byte spaces.
    let mut byte_at = 0u64;
    let mut uncompressed_at = 0u64;
    for chunk in &index.chunks {
        assert_eq!(chunk.byte_start, byte_at);
        assert_eq!(chunk.uncompressed_start, uncompressed_at);
        assert!(chunk.byte_end > chunk.byte_start);
        byte_at = chunk.byte_end;
        uncompressed_at += u64::from(chunk.uncompressed_len);
    }

    // One chunk range picked from the input: its bytes decode on their own to
    // the matching part of the whole, and its chunk hashes check out.
    let start = usize::from(data[0]) % n;
    let end = start + 1 + usize::from(data.get(1).copied().unwrap_or(0)) % (n - start);
    let range = index.byte_range(start..end).expect("in-bounds chunk range");
    let part = decode_chunks(&data[range.start as usize..range.end as usize]).expect("a chunk range decodes");
    let from = index.chunks[start].uncompressed_start as usize;
    assert_eq!(part.as_slice(), &decoded[from..from + part.len()]);
    let mut at = 0usize;
    for chunk in &index.chunks[start..end] {
        let len = chunk.uncompressed_len as usize;
        assert_eq!(hash::chunk_hash(&part[at..at + len]), chunk.hash);
        at += len;
    }
    assert_eq!(at, part.len());
}
