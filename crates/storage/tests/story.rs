//! One story, every backend: the same sequence of blob operations runs
//! against [`LocalBlobStore`] and against [`S3BlobStore`] talking to an
//! in-process S3 server (s3s-fs on a loopback port).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tessera_storage::{BlobStore, LocalBlobStore, S3BlobStore, S3Config, StorageError};

/// What a backend can do beyond the shared story.
struct Expect {
    /// Whether `presigned_get` hands out URLs.
    presigns: bool,
}

/// Deterministic, non-repeating-looking test bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// `data` as a stream of pieces of awkward sizes, optionally ending in an error.
fn pieces(data: &[u8], fail: bool) -> BoxStream<'static, std::io::Result<Bytes>> {
    let mut items: Vec<std::io::Result<Bytes>> = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    let mut len = 1;
    while !rest.is_empty() {
        items.push(Ok(rest.split_to(len.min(rest.len()))));
        len = len * 7 % 3_000_017 + 1;
    }
    if fail {
        items.push(Err(std::io::Error::other("client went away")));
    }
    futures::stream::iter(items).boxed()
}

async fn collect(store: &dyn BlobStore, key: &str, range: std::ops::Range<u64>) -> Vec<u8> {
    let pieces: Vec<_> = store.get_stream(key, range).await.unwrap().collect().await;
    pieces.into_iter().flat_map(|piece| piece.unwrap()).collect()
}

async fn story(store: &dyn BlobStore, expect: Expect) {
    // Whole and ranged reads of a small object.
    store.put("xorbs/abc", Bytes::from_static(b"0123456789")).await.unwrap();
    assert_eq!(store.get("xorbs/abc", None).await.unwrap(), Bytes::from_static(b"0123456789"));
    assert_eq!(store.get("xorbs/abc", Some(2..5)).await.unwrap(), Bytes::from_static(b"234"));
    assert_eq!(store.get("xorbs/abc", Some(9..10)).await.unwrap(), Bytes::from_static(b"9"));
    assert_eq!(store.get("xorbs/abc", Some(4..4)).await.unwrap(), Bytes::new());
    for range in [5..11, 10..12, 11..11] {
        let error = store.get("xorbs/abc", Some(range.clone())).await.unwrap_err();
        assert!(matches!(error, StorageError::InvalidRange { size: 10, .. }), "{range:?}: {error}");
    }
    assert_eq!(store.size("xorbs/abc").await.unwrap(), Some(10));
    assert_eq!(collect(store, "xorbs/abc", 1..5).await, b"1234");
    assert!(matches!(store.get_stream("xorbs/abc", 1..11).await, Err(StorageError::InvalidRange { .. })));

    // A put replaces the object whole.
    store.put("xorbs/abc", Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(store.get("xorbs/abc", None).await.unwrap(), Bytes::from_static(b"abc"));

    // Missing objects.
    assert_eq!(store.size("xorbs/missing").await.unwrap(), None);
    assert!(matches!(store.get("xorbs/missing", None).await, Err(StorageError::NotFound { .. })));
    assert!(matches!(store.get("xorbs/missing", Some(0..1)).await, Err(StorageError::NotFound { .. })));
    assert!(matches!(store.get_stream("xorbs/missing", 0..1).await, Err(StorageError::NotFound { .. })));
    store.delete("xorbs/missing").await.unwrap();

    // Streamed writes, small and larger than several multipart parts.
    assert_eq!(store.put_stream("s/small", pieces(b"abcdef", false)).await.unwrap(), 6);
    assert_eq!(store.get("s/small", None).await.unwrap(), Bytes::from_static(b"abcdef"));
    assert_eq!(store.put_stream("s/empty", pieces(b"", false)).await.unwrap(), 0);
    assert_eq!(store.size("s/empty").await.unwrap(), Some(0));
    let large = pattern((20 << 20) + 12_345);
    assert_eq!(store.put_stream("s/large", pieces(&large, false)).await.unwrap(), large.len() as u64);
    assert_eq!(store.size("s/large").await.unwrap(), Some(large.len() as u64));
    assert!(store.get("s/large", None).await.unwrap() == large);
    let across = (8 << 20) - 1000..(16 << 20) + 1000;
    assert!(collect(store, "s/large", across.clone()).await == large[across.start as usize..across.end as usize]);
    let tail = (large.len() as u64 - 10)..large.len() as u64;
    assert!(store.get("s/large", Some(tail.clone())).await.unwrap() == large[tail.start as usize..]);

    // Failed streams leave nothing, before and after the first full part.
    for (key, len) in [("s/bad-small", 3), ("s/bad-large", (9 << 20) + 1)] {
        let error = store.put_stream(key, pieces(&pattern(len), true)).await.unwrap_err();
        assert!(matches!(error, StorageError::Io { .. }), "{key}: {error}");
        assert_eq!(store.size(key).await.unwrap(), None, "{key}");
    }
    // ... and do not disturb an object already under the key.
    assert!(store.put_stream("s/small", pieces(&pattern(10), true)).await.is_err());
    assert_eq!(store.get("s/small", None).await.unwrap(), Bytes::from_static(b"abcdef"));

    // Presigned reads: a plain HTTP GET with its own Range header.
    let url = store.presigned_get("s/large", Duration::from_secs(60)).await.unwrap();
    assert_eq!(url.is_some(), expect.presigns);
    if let Some(url) = url {
        let http = reqwest::Client::new();
        let ranged = http.get(&url).header("range", "bytes=8388600-8388700").send().await.unwrap();
        assert_eq!(ranged.status(), 206);
        assert!(ranged.bytes().await.unwrap() == large[8_388_600..=8_388_700]);
        let whole = http.get(&url).send().await.unwrap();
        assert_eq!(whole.status(), 200);
        assert!(whole.bytes().await.unwrap() == large);
        let tampered = url.replacen("s/large", "s/small", 1);
        assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    }

    // Deletes.
    for key in ["xorbs/abc", "s/small", "s/empty", "s/large"] {
        store.delete(key).await.unwrap();
        assert_eq!(store.size(key).await.unwrap(), None, "{key}");
    }
    assert!(matches!(store.get("xorbs/abc", None).await, Err(StorageError::NotFound { .. })));

    // Keys stay relative names on every backend.
    for key in ["", "/abs", "a/../b", "a//b", ".tmp/x", "a\\b", "a/./b"] {
        assert!(matches!(store.put(key, Bytes::new()).await, Err(StorageError::InvalidKey { .. })), "{key}");
        assert!(matches!(store.size(key).await, Err(StorageError::InvalidKey { .. })), "{key}");
        assert!(matches!(store.get(key, None).await, Err(StorageError::InvalidKey { .. })), "{key}");
    }
}

#[tokio::test]
async fn local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).await.unwrap();
    story(&store, Expect { presigns: false }).await;
}

const ACCESS_KEY: &str = "testkey";
const SECRET_KEY: &str = "testsecret";

/// An s3s-fs server over `root` on a free loopback port; returns its URL.
async fn spawn_s3(root: &Path) -> String {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;

    let mut builder = s3s::service::S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).unwrap());
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new()).serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn s3_on_s3s_fs() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = spawn_s3(dir.path()).await;
    let config = S3Config {
        bucket: "tessera-story".into(),
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".into(),
        force_path_style: true,
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(config.region.clone()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .load()
        .await;

    // The bucket must exist.
    assert!(matches!(S3BlobStore::connect_with(&config, &sdk).await, Err(StorageError::NotFound { .. })));
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk).endpoint_url(&endpoint).force_path_style(true).build(),
    );
    admin.create_bucket().bucket(&config.bucket).send().await.unwrap();

    let store = S3BlobStore::connect_with(&config, &sdk).await.unwrap();
    let described = store.describe();
    assert!(described.contains("tessera-story") && described.contains(&endpoint), "{described}");
    assert!(!described.contains(SECRET_KEY), "{described}");
    story(&store, Expect { presigns: true }).await;

    // Aborted multipart uploads left no parts behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload_id-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
