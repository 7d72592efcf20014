//! Throughput of the hot paths: chunking alone, chunking + chunk hashing
//! (what `tessera xet hash` and the server's ingest do), xorb writing and
//! xorb validation; plain blake3 and sha256 over the same bytes are the
//! baselines to read the figures against.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest as _;
use std::hint::black_box;
use tessera_formats::chunking::chunk_boundaries;
use tessera_formats::file::{FileHasher, digest};
use tessera_formats::xorb::{XorbBuilder, parse_xorb};

const LEN: usize = 64 * 1024 * 1024;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

fn throughput(c: &mut Criterion) {
    let data = random_bytes(LEN);
    let mut group = c.benchmark_group("64MiB_random");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);

    group.bench_function("baseline_blake3", |b| b.iter(|| blake3::hash(black_box(&data))));
    group.bench_function("baseline_sha256", |b| b.iter(|| sha2::Sha256::digest(black_box(&data))));
    group.bench_function("chunk_boundaries", |b| b.iter(|| chunk_boundaries(black_box(&data))));
    group.bench_function("chunk_and_hash", |b| b.iter(|| digest(black_box(&data))));

    let mut chunks = Vec::new();
    let mut hasher = FileHasher::new();
    hasher.update_with(&data, |chunk, _| chunks.push(chunk.to_vec()));
    hasher.finish_with(|chunk, _| chunks.push(chunk.to_vec()));
    let build = || {
        let mut builder = XorbBuilder::new();
        builder.start_file();
        for chunk in &chunks {
            builder.add_chunk(chunk).expect("chunks of a 64 MiB file fit one xorb");
        }
        builder.finish().expect("the xorb has chunks")
    };
    group.bench_function("xorb_build", |b| b.iter(build));
    let xorb = build();
    group.bench_function("xorb_parse", |b| b.iter(|| parse_xorb(black_box(&xorb.bytes))));
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
