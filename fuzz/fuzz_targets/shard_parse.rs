//! Fuzzes the shard parser with arbitrary bytes.
//!
//! Checks, beyond "never panics": every shard `parse_shard` accepts
//! re-serializes, as an upload shard (no footer) and as a complete shard
//! (lookup tables and footer, with and without an HMAC key), to bytes that
//! parse back to the same files and xorbs, and that re-serialize identically.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_formats::MerkleHash;
use tessera_formats::shard::{FOOTER_LEN, FooterOptions, RECORD_LEN, Shard, parse_shard};

fuzz_target!(|data: &[u8]| {
    let Ok(shard) = parse_shard(data) else {
        return;
    };

    // Upload form: header and sections only.
    let plain = Shard { footer: None, ..shard.clone() };
    let upload = plain.to_upload_bytes();
    let reparsed = parse_shard(&upload).unwrap_or_else(|err| panic!("upload bytes do not parse: {err}"));
    assert_eq!(reparsed, plain, "upload round trip changed the shard");
    assert_eq!(reparsed.to_upload_bytes(), upload, "upload bytes are not stable");

    // Complete form without a key: chunk hashes are written as they are.
    let options = FooterOptions::default();
    let complete = shard.to_complete_bytes(&options);
    let reparsed = parse_shard(&complete).unwrap_or_else(|err| panic!("complete bytes do not parse: {err}"));
    assert_eq!(reparsed.files, shard.files, "complete round trip changed the files");
    assert_eq!(reparsed.xorbs, shard.xorbs, "complete round trip changed the xorbs");
    let footer = reparsed.footer.expect("a complete shard has a footer");
    assert_eq!(footer.footer_offset, (complete.len() - FOOTER_LEN) as u64);
    assert_eq!(footer.file_info_offset, RECORD_LEN as u64);
    assert_eq!(footer.file_lookup_count, shard.files.len() as u64);
    assert_eq!(footer.xorb_lookup_count, shard.xorbs.len() as u64);
    let chunk_count: usize = shard.xorbs.iter().map(|xorb| xorb.chunks.len()).sum();
    assert_eq!(footer.chunk_lookup_count, chunk_count as u64);
    assert_eq!(footer.chunk_hash_hmac_key, MerkleHash::ZERO);
    assert_eq!(reparsed.to_complete_bytes(&options), complete, "complete bytes are not stable");

    // Complete form with a key taken from the input: only chunk hashes change.
    let mut key = [0u8; 32];
    for (slot, byte) in key.iter_mut().zip(data.iter().rev()) {
        *slot = *byte;
    }
    key[0] |= 1;
    let key = MerkleHash::from_bytes(key);
    let keyed = shard.to_complete_bytes(&FooterOptions { hmac_key: Some(key), creation_timestamp: 1, key_expiry: 2 });
    let reparsed = parse_shard(&keyed).unwrap_or_else(|err| panic!("keyed complete bytes do not parse: {err}"));
    assert_eq!(reparsed.files, shard.files);
    assert_eq!(reparsed.xorbs.len(), shard.xorbs.len());
    for (got, want) in reparsed.xorbs.iter().zip(&shard.xorbs) {
        assert_eq!(got.xorb_hash, want.xorb_hash);
        assert_eq!(got.chunks.len(), want.chunks.len());
        for (got, want) in got.chunks.iter().zip(&want.chunks) {
            assert_eq!(got.hash, want.hash.hmac(&key));
            assert_eq!((got.byte_start, got.len, got.flags), (want.byte_start, want.len, want.flags));
        }
    }
    let footer = reparsed.footer.expect("a complete shard has a footer");
    assert_eq!(footer.chunk_hash_hmac_key, key);
    assert_eq!((footer.creation_timestamp, footer.key_expiry), (1, 2));
});
