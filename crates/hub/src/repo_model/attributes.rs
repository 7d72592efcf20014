//! `.gitattributes`: HF's default file per repo type, and which paths its
//! `filter=lfs` rules cover (git's wildmatch, root `.gitattributes` only).

use tessera_db::RepoType;

/// The attribute suffix of every LFS rule HF writes.
const LFS_ATTRIBUTES: &str = "filter=lfs diff=lfs merge=lfs -text";

/// Patterns of HF's model (and space) template, in its order.
const COMMON_PATTERNS: &[&str] = &[
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.lfs.*",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar.*",
    "*.tar",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
];

/// Extra sections of HF's dataset template: a comment and its patterns.
const DATASET_SECTIONS: &[(&str, &[&str])] = &[
    ("", &["*.lz4", "*.mds"]),
    ("# Audio files - uncompressed", &["*.pcm", "*.sam", "*.raw"]),
    ("# Audio files - compressed", &["*.aac", "*.flac", "*.mp3", "*.ogg", "*.wav"]),
    ("# Image files - uncompressed", &["*.bmp", "*.gif", "*.png", "*.tiff"]),
    ("# Image files - compressed", &["*.jpg", "*.jpeg", "*.webp"]),
    ("# Video files - compressed", &["*.mp4", "*.webm"]),
];

/// The `.gitattributes` a new repo of `repo_type` starts with.
pub fn default_gitattributes(repo_type: RepoType) -> String {
    let mut out = String::new();
    for pattern in COMMON_PATTERNS {
        out.push_str(&format!("{pattern} {LFS_ATTRIBUTES}\n"));
    }
    if repo_type == RepoType::Dataset {
        for (comment, patterns) in DATASET_SECTIONS {
            if !comment.is_empty() {
                out.push_str(comment);
                out.push('\n');
            }
            for pattern in *patterns {
                out.push_str(&format!("{pattern} {LFS_ATTRIBUTES}\n"));
            }
        }
    }
    out
}

/// The line that makes exactly `path` an LFS file: anchored at the root,
/// glob characters escaped, C-quoted when it holds spaces or quotes.
pub fn lfs_rule_for_path(path: &str) -> String {
    let mut escaped = String::from("/");
    for c in path.chars() {
        match c {
            '*' | '?' | '[' | ']' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    let pattern = if escaped.contains([' ', '\t', '"']) {
        // Inside C quotes a backslash must itself be quoted.
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    };
    format!("{pattern} {LFS_ATTRIBUTES}")
}

/// One rule: a pattern and what it says about `filter=lfs`.
#[derive(Debug, Clone)]
struct Rule {
    /// The glob, without a leading `/`.
    pattern: String,
    /// Whether it is matched against the full path (it had a `/`) or the basename.
    anchored: bool,
    /// `true` for `filter=lfs`, `false` for another filter or an unset one.
    lfs: bool,
}

/// The `filter=lfs` rules of a `.gitattributes` file.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    rules: Vec<Rule>,
}

impl Attributes {
    /// Parses a `.gitattributes` file; lines it cannot read are skipped, as git does.
    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((pattern, rest)) = split_pattern(line) else { continue };
            let mut lfs = None;
            for attribute in rest.split_whitespace() {
                if let Some(value) = attribute.strip_prefix("filter=") {
                    lfs = Some(value == "lfs");
                } else if attribute == "-filter" || attribute == "!filter" {
                    lfs = Some(false);
                }
            }
            let Some(lfs) = lfs else { continue };
            // `dir/` patterns never match files in attributes files.
            if pattern.is_empty() || pattern.ends_with('/') {
                continue;
            }
            let anchored = pattern.contains('/');
            let pattern = pattern.strip_prefix('/').unwrap_or(&pattern).to_owned();
            rules.push(Rule { pattern, anchored, lfs });
        }
        Self { rules }
    }

    /// Whether the last rule matching `path` sets `filter=lfs`.
    pub fn is_lfs(&self, path: &str) -> bool {
        let basename = path.rsplit('/').next().unwrap_or(path);
        self.rules
            .iter()
            .rev()
            .find(|rule| {
                let subject = if rule.anchored { path } else { basename };
                wildmatch(rule.pattern.as_bytes(), subject.as_bytes())
            })
            .is_some_and(|rule| rule.lfs)
    }
}

/// Splits a line into its pattern (unquoting a C-quoted one) and the rest.
fn split_pattern(line: &str) -> Option<(String, &str)> {
    if let Some(quoted) = line.strip_prefix('"') {
        let mut pattern = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => return Some((pattern, &quoted[at + 1..])),
                '\\' => match chars.next()?.1 {
                    'n' => pattern.push('\n'),
                    't' => pattern.push('\t'),
                    other => pattern.push(other),
                },
                other => pattern.push(other),
            }
        }
        return None;
    }
    let end = line.find([' ', '\t']).unwrap_or(line.len());
    Some((line[..end].to_owned(), &line[end..]))
}

/// Git's wildmatch with `WM_PATHNAME`: `*`, `?` and classes stop at `/`;
/// `**` between slashes (or at either end) spans directories.
pub fn wildmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    while p < pattern.len() {
        match pattern[p] {
            b'\\' if p + 1 < pattern.len() => {
                if text.get(t) != Some(&pattern[p + 1]) {
                    return false;
                }
                p += 2;
                t += 1;
            }
            b'?' => {
                match text.get(t) {
                    Some(&c) if c != b'/' => {}
                    _ => return false,
                }
                p += 1;
                t += 1;
            }
            b'*' => {
                let mut end = p + 1;
                while end < pattern.len() && pattern[end] == b'*' {
                    end += 1;
                }
                let double = end - p >= 2;
                let starts_component = p == 0 || pattern[p - 1] == b'/';
                let ends_component = end == pattern.len() || pattern[end] == b'/';
                if double && starts_component && ends_component {
                    if end == pattern.len() {
                        return true;
                    }
                    // `**/`: zero or more leading directories.
                    let rest = &pattern[end + 1..];
                    if wildmatch(rest, &text[t..]) {
                        return true;
                    }
                    return (t..text.len()).any(|k| text[k] == b'/' && wildmatch(rest, &text[k + 1..]));
                }
                let rest = &pattern[end..];
                let mut k = t;
                loop {
                    if wildmatch(rest, &text[k..]) {
                        return true;
                    }
                    if k >= text.len() || text[k] == b'/' {
                        return false;
                    }
                    k += 1;
                }
            }
            b'[' => match match_class(&pattern[p..], text.get(t).copied()) {
                Some((true, consumed)) => {
                    p += consumed;
                    t += 1;
                }
                Some((false, _)) => return false,
                // No closing bracket: a literal `[`.
                None => {
                    if text.get(t) != Some(&b'[') {
                        return false;
                    }
                    p += 1;
                    t += 1;
                }
            },
            c => {
                if text.get(t) != Some(&c) {
                    return false;
                }
                p += 1;
                t += 1;
            }
        }
    }
    t == text.len()
}

/// Matches a `[...]` class at the start of `pattern` against `c`: whether it
/// matched and how many pattern bytes it spans; `None` if it is not closed.
fn match_class(pattern: &[u8], c: Option<u8>) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut low = *pattern.get(i)?;
        if low == b']' && !first {
            break;
        }
        first = false;
        if low == b'\\' {
            i += 1;
            low = *pattern.get(i)?;
        }
        let mut high = low;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&b| b != b']') {
            i += 2;
            high = *pattern.get(i)?;
            if high == b'\\' {
                i += 1;
                high = *pattern.get(i)?;
            }
        }
        if let Some(c) = c
            && low <= c
            && c <= high
        {
            matched = true;
        }
        i += 1;
    }
    let Some(c) = c else { return Some((false, i + 1)) };
    if c == b'/' {
        return Some((false, i + 1));
    }
    Some((matched != negated, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildmatch_cases() {
        let m = |p: &str, t: &str| wildmatch(p.as_bytes(), t.as_bytes());
        assert!(m("*.bin", "w.bin"));
        assert!(!m("*.bin", "dir/w.bin"));
        assert!(m("*tfevents*", "events.out.tfevents.123"));
        assert!(m("saved_model/**/*", "saved_model/a/b.pb"));
        assert!(m("saved_model/**/*", "saved_model/b.pb"));
        assert!(!m("saved_model/**/*", "other/b.pb"));
        assert!(m("**/x.bin", "a/b/x.bin"));
        assert!(m("**/x.bin", "x.bin"));
        assert!(m("a/**", "a/b/c"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(m("*.tar.*", "x.tar.gz"));
        assert!(m("file[0-9].txt", "file5.txt"));
        assert!(!m("file[!0-9].txt", "file5.txt"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("?.txt", "a.txt"));
        assert!(!m("?", "/"));
    }

    #[test]
    fn attributes_follow_last_match_and_basenames() {
        let attributes = Attributes::parse(&default_gitattributes(RepoType::Model));
        assert!(attributes.is_lfs("model.safetensors"));
        assert!(attributes.is_lfs("deep/dir/model.bin"));
        assert!(attributes.is_lfs("saved_model/variables/v.data"));
        assert!(attributes.is_lfs("logs/events.out.tfevents.1"));
        assert!(!attributes.is_lfs("README.md"));
        assert!(!attributes.is_lfs("image.png"));
        assert!(Attributes::parse(&default_gitattributes(RepoType::Dataset)).is_lfs("img/cat.png"));

        let custom = Attributes::parse("*.bin filter=lfs\nsmall.bin -filter\n/top.txt filter=lfs\n");
        assert!(!custom.is_lfs("a/small.bin"));
        assert!(custom.is_lfs("a/big.bin"));
        assert!(custom.is_lfs("top.txt"));
        assert!(!custom.is_lfs("sub/top.txt"));
    }

    #[test]
    fn exact_rules_cover_their_path_only() {
        for path in ["w.dat", "sub dir/w.dat", "we*ird[1]?.dat", "q\"uote.dat", "a/b\\c.dat"] {
            let rule = lfs_rule_for_path(path);
            let attributes = Attributes::parse(&rule);
            assert!(attributes.is_lfs(path), "{rule} should cover {path}");
            assert!(!attributes.is_lfs(&format!("other/{path}")), "{rule} is anchored");
        }
        assert_eq!(lfs_rule_for_path("sub dir/w.dat"), "\"/sub dir/w.dat\" filter=lfs diff=lfs merge=lfs -text");
    }
}
