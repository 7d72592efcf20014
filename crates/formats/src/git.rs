//! Git objects with their true SHA-1 ids — blobs, trees, commits — and the
//! Git LFS pointer files that stand in the tree for large files.

use std::fmt;
use std::str::FromStr;

use sha1::Digest as _;

use crate::error::FormatError;

/// A git object id (SHA-1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId([u8; 20]);

impl ObjectId {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The id of an object of `kind` with `content`: `sha1("{kind} {len}\0{content}")`.
    pub fn for_object(kind: ObjectKind, content: &[u8]) -> Self {
        let mut hasher = sha1::Sha1::new();
        hasher.update(format!("{} {}\0", kind.as_str(), content.len()).as_bytes());
        hasher.update(content);
        Self(hasher.finalize().into())
    }

    /// 40 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.to_string()
    }

    /// Parses 40 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, FormatError> {
        let invalid = || FormatError::InvalidGitObject {
            kind: "object id",
            reason: format!("expected 40 hex digits, got {:?}", text.chars().take(60).collect::<String>()),
        };
        if text.len() != 40 || !text.is_ascii() {
            return Err(invalid());
        }
        let mut raw = [0u8; 20];
        for (i, byte) in raw.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| invalid())?;
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

/// The kinds of git object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// File content.
    Blob,
    /// A directory listing.
    Tree,
    /// A commit.
    Commit,
    /// An annotated tag.
    Tag,
}

impl ObjectKind {
    /// The name git uses in object headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blob => "blob",
            Self::Tree => "tree",
            Self::Commit => "commit",
            Self::Tag => "tag",
        }
    }

    /// Parses the name git uses in object headers.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "blob" => Some(Self::Blob),
            "tree" => Some(Self::Tree),
            "commit" => Some(Self::Commit),
            "tag" => Some(Self::Tag),
            _ => None,
        }
    }
}

/// The mode of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryMode {
    /// `100644`: a regular file.
    File,
    /// `100755`: an executable file.
    Executable,
    /// `120000`: a symbolic link.
    Symlink,
    /// `40000`: a subdirectory.
    Tree,
    /// `160000`: a submodule commit.
    Submodule,
}

impl EntryMode {
    /// The octal text git writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "100644",
            Self::Executable => "100755",
            Self::Symlink => "120000",
            Self::Tree => "40000",
            Self::Submodule => "160000",
        }
    }

    fn parse(text: &[u8]) -> Option<Self> {
        match text {
            b"100644" | b"100664" => Some(Self::File),
            b"100755" => Some(Self::Executable),
            b"120000" => Some(Self::Symlink),
            b"40000" | b"040000" => Some(Self::Tree),
            b"160000" => Some(Self::Submodule),
            _ => None,
        }
    }

    /// Whether the entry names a subdirectory.
    pub fn is_tree(self) -> bool {
        self == Self::Tree
    }
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// File or directory mode.
    pub mode: EntryMode,
    /// The name within its directory (no `/`).
    pub name: String,
    /// The blob, tree or commit it names.
    pub id: ObjectId,
}

/// Git's tree order: byte order of names, a directory compared as if its name ended in `/`.
fn tree_order(a: &TreeEntry, b: &TreeEntry) -> std::cmp::Ordering {
    let key = |entry: &TreeEntry| {
        let mut key = entry.name.as_bytes().to_vec();
        if entry.mode.is_tree() {
            key.push(b'/');
        }
        key
    };
    key(a).cmp(&key(b))
}

/// Encodes a tree object's content, sorting the entries into git's order.
pub fn encode_tree(entries: &mut [TreeEntry]) -> Vec<u8> {
    entries.sort_by(tree_order);
    let mut out = Vec::with_capacity(entries.len() * 40);
    for entry in entries.iter() {
        out.extend_from_slice(entry.mode.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(entry.name.as_bytes());
        out.push(0);
        out.extend_from_slice(entry.id.as_bytes());
    }
    out
}

/// Parses a tree object's content.
pub fn parse_tree(mut bytes: &[u8]) -> Result<Vec<TreeEntry>, FormatError> {
    let invalid = |reason: &str| FormatError::InvalidGitObject { kind: "tree", reason: reason.into() };
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|&b| b == b' ').ok_or_else(|| invalid("entry without mode"))?;
        let mode = EntryMode::parse(&bytes[..space]).ok_or_else(|| invalid("unknown entry mode"))?;
        let rest = &bytes[space + 1..];
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| invalid("entry without name end"))?;
        let name = std::str::from_utf8(&rest[..nul]).map_err(|_| invalid("entry name is not UTF-8"))?;
        let id_bytes = rest.get(nul + 1..nul + 21).ok_or_else(|| invalid("entry id is truncated"))?;
        let mut id = [0u8; 20];
        id.copy_from_slice(id_bytes);
        entries.push(TreeEntry { mode, name: name.to_owned(), id: ObjectId(id) });
        bytes = &rest[nul + 21..];
    }
    Ok(entries)
}

/// An author or committer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Unix seconds.
    pub time: i64,
    /// Timezone offset as git writes it, e.g. `+0000`.
    pub offset: String,
}

impl Signature {
    fn encode(&self) -> String {
        let clean = |text: &str| text.replace(['<', '>', '\n'], "");
        format!("{} <{}> {} {}", clean(&self.name), clean(&self.email), self.time, self.offset)
    }

    fn parse(text: &str) -> Option<Self> {
        let open = text.find('<')?;
        let close = text[open..].find('>')? + open;
        let mut tail = text[close + 1..].split_whitespace();
        Some(Self {
            name: text[..open].trim_end().to_owned(),
            email: text[open + 1..close].to_owned(),
            time: tail.next()?.parse().ok()?,
            offset: tail.next().unwrap_or("+0000").to_owned(),
        })
    }
}

/// A commit object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The root tree.
    pub tree: ObjectId,
    /// Parent commits, first parent first.
    pub parents: Vec<ObjectId>,
    /// Who wrote the change.
    pub author: Signature,
    /// Who committed it.
    pub committer: Signature,
    /// The full message (title, blank line, body).
    pub message: String,
}

impl Commit {
    /// The commit object's content.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("tree {}\n", self.tree);
        for parent in &self.parents {
            out.push_str(&format!("parent {parent}\n"));
        }
        out.push_str(&format!("author {}\n", self.author.encode()));
        out.push_str(&format!("committer {}\n", self.committer.encode()));
        out.push('\n');
        out.push_str(&self.message);
        out.into_bytes()
    }

    /// Parses a commit object's content (extra headers such as `gpgsig` are skipped).
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let invalid = |reason: &str| FormatError::InvalidGitObject { kind: "commit", reason: reason.into() };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8"))?;
        let (headers, message) = text.split_once("\n\n").unwrap_or((text, ""));
        let (mut tree, mut parents, mut author, mut committer) = (None, Vec::new(), None, None);
        for line in headers.lines() {
            let Some((key, value)) = line.split_once(' ') else { continue };
            match key {
                "tree" => tree = Some(ObjectId::from_hex(value)?),
                "parent" => parents.push(ObjectId::from_hex(value)?),
                "author" => author = Signature::parse(value),
                "committer" => committer = Signature::parse(value),
                _ => {}
            }
        }
        Ok(Self {
            tree: tree.ok_or_else(|| invalid("no tree"))?,
            parents,
            author: author.ok_or_else(|| invalid("no valid author"))?,
            committer: committer.ok_or_else(|| invalid("no valid committer"))?,
            message: message.to_owned(),
        })
    }

    /// The first line of the message.
    pub fn title(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }

    /// The message after the title and the blank line that follows it.
    pub fn body(&self) -> &str {
        self.message.split_once('\n').map_or("", |(_, rest)| rest.trim_start_matches('\n')).trim_end()
    }
}

/// Validates a branch or tag name the way `git check-ref-format` would.
pub fn valid_ref_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && name != "@"
        && !name.split('/').any(|part| part.starts_with('.') || part.ends_with(".lock"))
        && !name.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
}

/// A Git LFS pointer: the small blob that stands in the tree for a large file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfsPointer {
    /// The file's sha256, 64 lowercase hex digits.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
}

/// The digest bytes of an LFS oid: exactly 64 lowercase hex digits.
pub fn parse_lfs_oid(oid: &str) -> Option<[u8; 32]> {
    if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut raw = [0u8; 32];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&oid[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(raw)
}

/// Pointers are far smaller than this; anything larger is ordinary content.
pub const MAX_POINTER_LEN: usize = 1024;

impl LfsPointer {
    /// The pointer bytes exactly as `git lfs pointer` writes them.
    pub fn encode(&self) -> Vec<u8> {
        format!("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n", self.sha256, self.size)
            .into_bytes()
    }

    /// Reads a pointer; `None` if the bytes are not a well-formed v1 sha256 pointer.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_POINTER_LEN {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != "version https://git-lfs.github.com/spec/v1" {
            return None;
        }
        let sha256 = lines.next()?.strip_prefix("oid sha256:")?;
        let size = lines.next()?.strip_prefix("size ")?;
        if lines.next().is_some()
            || sha256.len() != 64
            || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            || !size.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self { sha256: sha256.to_owned(), size: size.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_match_git() {
        // `git hash-object` of an empty file and of "hello world\n".
        assert_eq!(ObjectId::for_object(ObjectKind::Blob, b"").hex(), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(
            ObjectId::for_object(ObjectKind::Blob, b"hello world\n").hex(),
            "3b18e512dba79e4c8300dd08aeb37f8e728b8dad"
        );
        assert_eq!(ObjectId::for_object(ObjectKind::Tree, b"").hex(), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    }

    #[test]
    fn tree_order_puts_directories_after_same_prefix_files() {
        let id = ObjectId::for_object(ObjectKind::Blob, b"x");
        let mut entries = vec![
            TreeEntry { mode: EntryMode::Tree, name: "a".into(), id },
            TreeEntry { mode: EntryMode::File, name: "a.txt".into(), id },
            TreeEntry { mode: EntryMode::File, name: "a-b".into(), id },
        ];
        let bytes = encode_tree(&mut entries);
        let names: Vec<_> = parse_tree(&bytes).unwrap().into_iter().map(|e| e.name).collect();
        // '-' (0x2d) < '.' (0x2e) < '/' (0x2f): the directory "a" sorts as "a/".
        assert_eq!(names, ["a-b", "a.txt", "a"]);
    }

    #[test]
    fn commit_round_trips() {
        let signature = Signature {
            name: "Alice".into(),
            email: "alice@example.com".into(),
            time: 1_700_000_000,
            offset: "+0000".into(),
        };
        let commit = Commit {
            tree: ObjectId::for_object(ObjectKind::Tree, b""),
            parents: vec![ObjectId::for_object(ObjectKind::Blob, b"p")],
            author: signature.clone(),
            committer: signature,
            message: "Title\n\nBody text\n".into(),
        };
        let parsed = Commit::parse(&commit.encode()).unwrap();
        assert_eq!(parsed, commit);
        assert_eq!(parsed.title(), "Title");
        assert_eq!(parsed.body(), "Body text");
    }

    #[test]
    fn lfs_pointer_matches_git_lfs() {
        let pointer = LfsPointer {
            sha256: "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393".into(),
            size: 12345,
        };
        let bytes = pointer.encode();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
        );
        assert_eq!(LfsPointer::parse(&bytes), Some(pointer.clone()));
        assert_eq!(LfsPointer::parse(b"hello"), None);
        let raw = parse_lfs_oid(&pointer.sha256).unwrap();
        assert_eq!((raw[0], raw[31]), (0x4d, 0x93));
        assert_eq!(parse_lfs_oid(&pointer.sha256.to_uppercase()), None);
        assert_eq!(parse_lfs_oid("abc"), None);
        assert_eq!(LfsPointer::parse(&bytes[..bytes.len() - 1]), None);
    }
}
