//! Writes seed corpora for the fuzz targets: valid xorbs built with
//! `XorbBuilder` into `corpus/xorb_parse`, and valid shards (upload and
//! complete, describing those xorbs) into `corpus/shard_parse`.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds [OUT_DIR]`.
//! `OUT_DIR` defaults to this crate's `corpus/`. Output is deterministic.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use tessera_formats::MerkleHash;
use tessera_formats::chunking::{MAX_CHUNK_SIZE, chunk_boundaries};
use tessera_formats::hash;
use tessera_formats::shard::{
    CHUNK_FLAG_GLOBAL_DEDUP, FOOTER_LEN, FOOTER_VERSION, FileEntry, FileTerm, FooterOptions, RECORD_LEN, Shard,
    XorbChunkEntry, XorbEntry,
};
use tessera_formats::xorb::{SerializedXorb, XorbBuilder};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A small deterministic generator (xorshift64*), so seeds need no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Incompressible bytes: stored without compression.
fn random(rng: &mut Rng, len: usize) -> Vec<u8> {
    rng.bytes(len)
}

/// Repetitive text: LZ4.
fn text(len: usize) -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog. ".iter().copied().cycle().take(len).collect()
}

/// Slowly varying little-endian floats: byte grouping then LZ4.
fn floats(len: usize) -> Vec<u8> {
    (0..).flat_map(|i: u32| (1.0f32 + i as f32 * 1e-4).to_le_bytes()).take(len).collect()
}

fn build(chunks: &[Vec<u8>], file_starts: &[usize]) -> Result<SerializedXorb> {
    let mut builder = XorbBuilder::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if file_starts.contains(&i) {
            builder.start_file();
        }
        builder.add_chunk(chunk)?;
    }
    Ok(builder.finish()?)
}

fn xorbs(rng: &mut Rng) -> Result<Vec<(&'static str, SerializedXorb)>> {
    let mut out = vec![
        ("one-byte", build(&[vec![7]], &[])?),
        ("random-4k", build(&[random(rng, 4096)], &[])?),
        ("text-8k", build(&[text(8192)], &[])?),
        ("floats-16k", build(&[floats(16 * 1024)], &[])?),
        ("text-max-chunk", build(&[text(MAX_CHUNK_SIZE)], &[])?),
        ("mixed-files", build(&[text(3000), floats(5000), random(rng, 2000), text(100), floats(64)], &[0, 1, 2, 4])?),
    ];
    // More than one compression block (32 chunks) of small chunks.
    let small: Vec<Vec<u8>> = (0..40)
        .map(|i| match i % 3 {
            0 => text(1 + rng.below(300)),
            1 => floats(4 + rng.below(300)),
            _ => {
                let len = 1 + rng.below(300);
                random(rng, len)
            }
        })
        .collect();
    out.push(("forty-small", build(&small, &[])?));
    // Content-defined chunks of a mixed buffer, as a client would cut them.
    let mut content = text(70_000);
    content.extend(random(rng, 90_000));
    content.extend(floats(80_000));
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in chunk_boundaries(&content) {
        chunks.push(content[start..end].to_vec());
        start = end;
    }
    out.push(("cdc-240k", build(&chunks, &[])?));
    Ok(out)
}

fn xorb_entry(xorb: &SerializedXorb, global_dedup_first: bool) -> XorbEntry {
    let index = &xorb.index;
    XorbEntry {
        xorb_hash: index.hash,
        xorb_flags: 0,
        num_bytes: index.uncompressed_len() as u32,
        num_bytes_on_disk: index.serialized_len() as u32,
        chunks: index
            .chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| XorbChunkEntry {
                hash: chunk.hash,
                byte_start: chunk.uncompressed_start as u32,
                len: chunk.uncompressed_len,
                flags: if global_dedup_first && i == 0 { CHUNK_FLAG_GLOBAL_DEDUP } else { 0 },
            })
            .collect(),
    }
}

/// A file made of chunk ranges `(xorb, start..end)`.
fn file_entry(
    xorbs: &[SerializedXorb],
    ranges: &[(usize, u32, u32)],
    verification: bool,
    sha256: bool,
    rng: &mut Rng,
) -> FileEntry {
    let mut leaves = Vec::new();
    let mut terms = Vec::new();
    let mut range_hashes = Vec::new();
    for &(x, start, end) in ranges {
        let index = &xorbs[x].index;
        let chunks = &index.chunks[start as usize..end as usize];
        leaves.extend(chunks.iter().map(|c| (c.hash, u64::from(c.uncompressed_len))));
        range_hashes.push(hash::range_hash(&chunks.iter().map(|c| c.hash).collect::<Vec<_>>()));
        terms.push(FileTerm {
            xorb_hash: index.hash,
            xorb_flags: 0,
            unpacked_bytes: chunks.iter().map(|c| c.uncompressed_len).sum(),
            chunk_start: start,
            chunk_end: end,
        });
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&rng.bytes(32));
    FileEntry {
        file_hash: hash::file_hash(&leaves),
        terms,
        verification: verification.then_some(range_hashes),
        sha256: sha256.then(|| MerkleHash::from_be_digest(digest)),
    }
}

fn shards(xorbs: &[SerializedXorb], rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let empty = Shard::default();
    let mut out = vec![
        ("empty-upload", empty.to_upload_bytes()),
        ("empty-complete", empty.to_complete_bytes(&FooterOptions::default())),
    ];

    let entries: Vec<XorbEntry> = xorbs.iter().enumerate().map(|(i, x)| xorb_entry(x, i % 2 == 0)).collect();
    let last = xorbs.len() - 1;
    let last_len = xorbs[last].index.chunks.len() as u32;
    let with_verification = Shard {
        files: vec![
            file_entry(xorbs, &[(0, 0, 1)], true, true, rng),
            file_entry(xorbs, &[(5, 0, 5), (1, 0, 1)], true, false, rng),
            file_entry(xorbs, &[(last, 0, last_len), (6, 3, 20)], true, true, rng),
        ],
        xorbs: entries.clone(),
        footer: None,
    };
    out.push(("verified-upload", with_verification.to_upload_bytes()));
    out.push(("verified-complete", with_verification.to_complete_bytes(&FooterOptions::default())));
    let key = MerkleHash::from_bytes([0x5a; 32]);
    let options = FooterOptions { hmac_key: Some(key), creation_timestamp: 1_700_000_000, key_expiry: 1_800_000_000 };
    out.push(("verified-complete-keyed", with_verification.to_complete_bytes(&options)));

    let plain = Shard {
        files: vec![
            file_entry(xorbs, &[(2, 0, 1)], false, false, rng),
            file_entry(xorbs, &[(3, 0, 1), (4, 0, 1)], false, true, rng),
        ],
        xorbs: entries[2..5].to_vec(),
        footer: None,
    };
    out.push(("plain-upload", plain.to_upload_bytes()));
    out.push(("plain-complete", plain.to_complete_bytes(&FooterOptions::default())));

    let xorbs_only = Shard { files: Vec::new(), xorbs: entries[..2].to_vec(), footer: None };
    out.push(("xorbs-only-upload", xorbs_only.to_upload_bytes()));

    // hf.js style: a footer with zero offsets and no lookup tables.
    let mut zero_footer = plain.to_upload_bytes();
    zero_footer[40..RECORD_LEN].copy_from_slice(&(FOOTER_LEN as u64).to_le_bytes());
    let mut footer = vec![0u8; FOOTER_LEN];
    footer[..8].copy_from_slice(&FOOTER_VERSION.to_le_bytes());
    zero_footer.extend(footer);
    out.push(("plain-zero-footer", zero_footer));
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("seed-{name}")), bytes)?;
    Ok(())
}

fn main() -> Result<()> {
    let root =
        std::env::args_os().nth(1).map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"), PathBuf::from);
    let mut rng = Rng(0x7e55_e7a5_eed5_0001);

    let built = xorbs(&mut rng)?;
    let xorb_dir = root.join("xorb_parse");
    for (name, xorb) in &built {
        tessera_formats::xorb::verify_xorb(&xorb.bytes, &xorb.index.hash)?;
        write(&xorb_dir, name, &xorb.bytes)?;
    }

    let xorbs: Vec<SerializedXorb> = built.into_iter().map(|(_, xorb)| xorb).collect();
    let shard_dir = root.join("shard_parse");
    let shards = shards(&xorbs, &mut rng);
    for (name, bytes) in &shards {
        tessera_formats::shard::parse_shard(bytes)?;
        write(&shard_dir, name, bytes)?;
    }
    println!(
        "wrote {} xorb seeds to {} and {} shard seeds to {}",
        xorbs.len(),
        xorb_dir.display(),
        shards.len(),
        shard_dir.display()
    );
    Ok(())
}
