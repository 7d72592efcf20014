//! Packs written by the real `git` (offset deltas, ref deltas, thin packs)
//! read back into exactly the objects git stores.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use tessera_formats::git::{ObjectId, ObjectKind};
use tessera_formats::pack::{Pack, PackLimits, write_pack};

fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.unwrap_or_default()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// A repo of ten commits, each changing one line of a large file, so git deltifies.
fn history() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"], None);
    let mut lines: Vec<String> = (0..3000).map(|i| format!("line {i} of a file git will store as deltas")).collect();
    for round in 0..10 {
        lines[round * 100] = format!("changed in round {round}");
        std::fs::write(dir.path().join("big.txt"), lines.join("\n")).unwrap();
        std::fs::write(dir.path().join(format!("small-{round}.txt")), format!("{round}\n")).unwrap();
        git(dir.path(), &["add", "."], None);
        git(dir.path(), &["commit", "-q", "-m", &format!("round {round}")], None);
    }
    git(dir.path(), &["tag", "-a", "-m", "annotated", "v1"], None);
    dir
}

/// Reads the object git has under `id`.
fn cat(dir: &Path, id: &ObjectId) -> (ObjectKind, Vec<u8>) {
    let kind = String::from_utf8(git(dir, &["cat-file", "-t", &id.hex()], None)).unwrap();
    let kind = ObjectKind::parse(kind.trim()).unwrap();
    (kind, git(dir, &["cat-file", kind.as_str(), &id.hex()], None))
}

fn read_all(dir: &Path, bytes: &[u8]) -> usize {
    let mut pack = Pack::parse(bytes, PackLimits::default()).unwrap();
    let missing = pack.resolve().unwrap();
    for id in &missing {
        let (kind, data) = cat(dir, id);
        pack.add_base(*id, kind, data);
    }
    assert!(pack.resolve().unwrap().is_empty());
    let objects = pack.into_objects().unwrap();
    for object in &objects {
        assert_eq!(cat(dir, &object.id), (object.kind, object.data.clone()), "object {}", object.id);
    }
    missing.len()
}

#[test]
fn offset_and_ref_deltas_resolve_to_gits_objects() {
    let repo = history();
    for extra in [&["--delta-base-offset"][..], &[]] {
        let mut args = vec!["pack-objects", "--stdout", "--revs", "--all", "-q"];
        args.extend_from_slice(extra);
        let bytes = git(repo.path(), &args, Some(b""));
        let pack = Pack::parse(&bytes, PackLimits::default()).unwrap();
        assert!(pack.len() > 30, "{} objects", pack.len());
        assert_eq!(read_all(repo.path(), &bytes), 0, "a full pack needs no outside base");
    }
}

#[test]
fn thin_packs_name_their_outside_bases() {
    let repo = history();
    let bytes = git(repo.path(), &["pack-objects", "--stdout", "--revs", "--thin", "-q"], Some(b"main\n^main~3\n"));
    assert!(read_all(repo.path(), &bytes) > 0, "the thin pack should delta against objects it does not carry");
}

#[test]
fn git_indexes_packs_we_write() {
    let repo = history();
    let objects = [(ObjectKind::Blob, b"written by tessera\n".to_vec()), (ObjectKind::Blob, vec![0u8; 100_000])];
    let bytes = write_pack(objects.iter().map(|(kind, data)| (*kind, data.as_slice())));
    git(repo.path(), &["index-pack", "--stdin", "--strict"], Some(&bytes));
    for (kind, data) in &objects {
        assert_eq!(cat(repo.path(), &ObjectId::for_object(*kind, data)), (*kind, data.clone()));
    }
}
