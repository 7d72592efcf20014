//! Property tests: xorbs and shards written by this crate parse back to what
//! was written, whatever the content, split points and options.

mod common;

use proptest::prelude::*;
use tessera_formats::FormatError;
use tessera_formats::hash::{self, MerkleHash};
use tessera_formats::shard::{
    self, FileEntry, FileTerm, FooterOptions, RECORD_LEN, Shard, XorbChunkEntry, XorbEntry, parse_shard,
};
use tessera_formats::xorb::{XorbBuilder, XorbParser, decode_chunks, parse_xorb, verify_xorb};

/// Chunk contents of several kinds, so every compression scheme gets chosen.
fn chunk_strategy() -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![8 => 1usize..20_000, 1 => Just(131_072usize)];
    (len, 0u8..4, any::<u64>()).prop_map(|(len, kind, seed)| match kind {
        0 => common::splitmix(len, seed),
        1 => vec![seed as u8; len],
        2 => (0..len).map(|i| [(seed as u8), 0x3F, (i >> 9) as u8, (i % 7) as u8][i % 4]).collect(),
        _ => b"xet chunk text ".iter().cycle().take(len).copied().collect(),
    })
}

fn build_xorb(chunks: &[Vec<u8>], file_starts: &[bool]) -> tessera_formats::xorb::SerializedXorb {
    let mut builder = XorbBuilder::new();
    for (chunk, &starts_file) in chunks.iter().zip(file_starts.iter().cycle()) {
        if starts_file {
            builder.start_file();
        }
        builder.add_chunk(chunk).unwrap();
    }
    builder.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn xorb_write_then_parse(
        chunks in prop::collection::vec(chunk_strategy(), 1..24),
        file_starts in prop::collection::vec(any::<bool>(), 1..8),
        split in any::<prop::sample::Index>(),
    ) {
        let xorb = build_xorb(&chunks, &file_starts);
        let leaves: Vec<_> = chunks.iter().map(|c| (hash::chunk_hash(c), c.len() as u64)).collect();
        prop_assert_eq!(xorb.index.hash, hash::xorb_hash(&leaves));

        let parsed = verify_xorb(&xorb.bytes, &xorb.index.hash).unwrap();
        prop_assert_eq!(&parsed, &xorb.index);
        prop_assert_eq!(parsed.serialized_len(), xorb.bytes.len() as u64);

        // Streaming in two pieces gives the same index.
        let at = split.index(xorb.bytes.len() + 1);
        let mut parser = XorbParser::new();
        parser.update(&xorb.bytes[..at]).unwrap();
        parser.update(&xorb.bytes[at..]).unwrap();
        prop_assert_eq!(&parser.finish().unwrap(), &xorb.index);

        // Any chunk range decodes to exactly its bytes.
        prop_assert_eq!(decode_chunks(&xorb.bytes).unwrap(), chunks.concat());
        let first = split.index(chunks.len());
        let range = xorb.index.byte_range(first..chunks.len()).unwrap();
        let decoded = decode_chunks(&xorb.bytes[range.start as usize..range.end as usize]).unwrap();
        prop_assert_eq!(decoded, chunks[first..].concat());
    }

    #[test]
    fn xorb_with_wrong_name_is_refused(chunks in prop::collection::vec(chunk_strategy(), 1..4)) {
        let xorb = build_xorb(&chunks, &[true]);
        let wrong = hash::chunk_hash(b"not this xorb");
        let refused = matches!(verify_xorb(&xorb.bytes, &wrong), Err(FormatError::XorbHashMismatch { .. }));
        prop_assert!(refused);
    }
}

fn hash_strategy() -> impl Strategy<Value = MerkleHash> {
    any::<[u8; 32]>().prop_map(MerkleHash::from_bytes)
}

fn term_strategy() -> impl Strategy<Value = FileTerm> {
    (hash_strategy(), 0u32..1000, 1u32..100, any::<u32>()).prop_map(|(xorb_hash, start, len, bytes)| FileTerm {
        xorb_hash,
        xorb_flags: 0,
        unpacked_bytes: bytes,
        chunk_start: start,
        chunk_end: start + len,
    })
}

fn shard_strategy() -> impl Strategy<Value = Shard> {
    let file = (hash_strategy(), prop::collection::vec(term_strategy(), 0..6), prop::option::of(hash_strategy()));
    let chunk =
        (hash_strategy(), any::<u32>(), 1u32..131_073, prop_oneof![Just(0u32), Just(shard::CHUNK_FLAG_GLOBAL_DEDUP)])
            .prop_map(|(hash, byte_start, len, flags)| XorbChunkEntry { hash, byte_start, len, flags });
    let xorb = (hash_strategy(), any::<u32>(), any::<u32>(), prop::collection::vec(chunk, 0..12)).prop_map(
        |(xorb_hash, num_bytes, num_bytes_on_disk, chunks)| XorbEntry {
            xorb_hash,
            xorb_flags: 0,
            num_bytes,
            num_bytes_on_disk,
            chunks,
        },
    );
    (prop::collection::vec(file, 0..6), prop::collection::vec(xorb, 0..5), any::<bool>(), any::<u64>()).prop_map(
        |(files, xorbs, verified, salt)| Shard {
            files: files
                .into_iter()
                .map(|(file_hash, terms, sha256)| FileEntry {
                    file_hash,
                    verification: verified.then(|| {
                        terms
                            .iter()
                            .map(|t| hash::range_hash(&[t.xorb_hash, hash::chunk_hash(&salt.to_le_bytes())]))
                            .collect()
                    }),
                    terms,
                    sha256,
                })
                .collect(),
            xorbs,
            footer: None,
        },
    )
}

fn u64_at(bytes: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(bytes[at as usize..at as usize + 8].try_into().unwrap())
}

fn u32_at(bytes: &[u8], at: u64) -> u32 {
    u32::from_le_bytes(bytes[at as usize..at as usize + 4].try_into().unwrap())
}

fn record_hash(bytes: &[u8], at: u64) -> MerkleHash {
    MerkleHash::from_bytes(bytes[at as usize..at as usize + 32].try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn upload_shard_write_then_parse(shard in shard_strategy()) {
        let bytes = shard.to_upload_bytes();
        prop_assert_eq!(&parse_shard(&bytes).unwrap(), &shard);
    }

    #[test]
    fn complete_shard_write_then_parse(shard in shard_strategy(), key in prop::option::of(hash_strategy())) {
        let options = FooterOptions { hmac_key: key, creation_timestamp: 1_700_000_000, key_expiry: 1_700_003_600 };
        let bytes = shard.to_complete_bytes(&options);
        let parsed = parse_shard(&bytes).unwrap();
        prop_assert_eq!(&parsed.files, &shard.files);
        let keyed = |hash: MerkleHash| key.map_or(hash, |key| hash.hmac(&key));
        for (written, original) in parsed.xorbs.iter().zip(&shard.xorbs) {
            prop_assert_eq!(written.xorb_hash, original.xorb_hash);
            let hashes: Vec<_> = written.chunks.iter().map(|c| c.hash).collect();
            let expected: Vec<_> = original.chunks.iter().map(|c| keyed(c.hash)).collect();
            prop_assert_eq!(hashes, expected);
        }

        let footer = parsed.footer.unwrap();
        prop_assert_eq!(footer.footer_offset, (bytes.len() - shard::FOOTER_LEN) as u64);
        prop_assert_eq!(footer.chunk_hash_hmac_key, key.unwrap_or_default());
        prop_assert_eq!(footer.key_expiry, 1_700_003_600);
        prop_assert_eq!(footer.materialized_bytes, shard.files.iter().map(FileEntry::size).sum::<u64>());

        // Every lookup table is sorted by key and points at the record it names.
        let mut previous = 0;
        for entry in 0..footer.file_lookup_count {
            let at = footer.file_lookup_offset + entry * 12;
            let key = u64_at(&bytes, at);
            prop_assert!(key >= previous);
            previous = key;
            let record = footer.file_info_offset + u64::from(u32_at(&bytes, at + 8)) * RECORD_LEN as u64;
            prop_assert_eq!(record_hash(&bytes, record).truncated(), key);
        }
        previous = 0;
        for entry in 0..footer.xorb_lookup_count {
            let at = footer.xorb_lookup_offset + entry * 12;
            let key = u64_at(&bytes, at);
            prop_assert!(key >= previous);
            previous = key;
            let record = footer.xorb_info_offset + u64::from(u32_at(&bytes, at + 8)) * RECORD_LEN as u64;
            prop_assert_eq!(record_hash(&bytes, record).truncated(), key);
        }
        previous = 0;
        let total_chunks: usize = shard.xorbs.iter().map(|x| x.chunks.len()).sum();
        prop_assert_eq!(footer.chunk_lookup_count, total_chunks as u64);
        for entry in 0..footer.chunk_lookup_count {
            let at = footer.chunk_lookup_offset + entry * 16;
            let key = u64_at(&bytes, at);
            prop_assert!(key >= previous);
            previous = key;
            let xorb_record = u64::from(u32_at(&bytes, at + 8));
            let position = u64::from(u32_at(&bytes, at + 12));
            let record = footer.xorb_info_offset + (xorb_record + 1 + position) * RECORD_LEN as u64;
            prop_assert_eq!(record_hash(&bytes, record).truncated(), key);
        }
    }

    #[test]
    fn truncated_shards_are_errors(shard in shard_strategy(), cut in any::<prop::sample::Index>()) {
        let bytes = shard.to_upload_bytes();
        let at = cut.index(bytes.len());
        prop_assert!(parse_shard(&bytes[..at]).is_err());
    }
}

#[test]
fn every_truncated_xorb_is_an_error() {
    let chunks = [common::splitmix(9000, 1), vec![7; 20_000], common::splitmix(300, 2)];
    let xorb = build_xorb(&chunks, &[true]);
    let boundaries: Vec<u64> = xorb.index.chunks.iter().map(|c| c.byte_end).collect();
    for at in 0..xorb.bytes.len() {
        let prefix = &xorb.bytes[..at];
        // A prefix that ends between chunks is a smaller valid xorb, refused by its name.
        if boundaries.contains(&(at as u64)) {
            assert!(parse_xorb(prefix).is_ok());
        } else {
            assert!(parse_xorb(prefix).is_err(), "prefix of {at} bytes parsed");
        }
        assert!(verify_xorb(prefix, &xorb.index.hash).is_err(), "prefix of {at} bytes verified");
    }
    let mut trailing = xorb.bytes.clone();
    trailing.push(0);
    assert!(matches!(parse_xorb(&trailing), Err(FormatError::Truncated { .. })));
}

#[test]
fn hf_xet_empty_file_entry_is_accepted() {
    // hf_xet registers empty files: hash 0, no terms, both flags, an all-zero sha256.
    let shard = Shard {
        files: vec![FileEntry {
            file_hash: MerkleHash::ZERO,
            terms: Vec::new(),
            verification: Some(Vec::new()),
            sha256: Some(MerkleHash::ZERO),
        }],
        xorbs: Vec::new(),
        footer: None,
    };
    let bytes = shard.to_upload_bytes();
    assert_eq!(bytes.len(), 5 * RECORD_LEN);
    assert_eq!(parse_shard(&bytes).unwrap(), shard);
}

#[test]
fn mixed_verification_is_refused() {
    let file =
        |verification| FileEntry { file_hash: hash::chunk_hash(b"f"), terms: Vec::new(), verification, sha256: None };
    let shard = Shard { files: vec![file(Some(Vec::new())), file(None)], xorbs: Vec::new(), footer: None };
    let error = parse_shard(&shard.to_upload_bytes()).unwrap_err();
    assert!(error.to_string().contains("only some files"), "{error}");
}

#[test]
fn oversized_counts_do_not_allocate() {
    // A file header that claims u32::MAX terms in a tiny shard.
    let mut bytes = Shard::default().to_upload_bytes();
    let bookend_at = RECORD_LEN;
    let mut header = vec![0u8; RECORD_LEN];
    header[36..40].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes.splice(bookend_at..bookend_at, header);
    let error = parse_shard(&bytes).unwrap_err();
    assert!(error.to_string().contains("more than the shard holds"), "{error}");
}
