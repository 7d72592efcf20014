//! Name rules shared by every surface: account (user and organization)
//! names, repo names, and the names reserved for the server's own paths.

/// Namespace names no user or organization may take: the first path
/// segment of the server's own pages and APIs (now, or of the web UI and
/// buckets to come).
pub const RESERVED_NAMES: &[&str] = &[
    "admin",
    "api",
    "assets",
    "avatars",
    "billing",
    "blame",
    "blob",
    "blog",
    "buckets",
    "chat",
    "collections",
    "commit",
    "commits",
    "datasets",
    "discussions",
    "docs",
    "edit",
    "enterprise",
    "faq",
    "favicon.ico",
    "health",
    "join",
    "learn",
    "login",
    "logout",
    "metrics",
    "models",
    "new",
    "new-dataset",
    "new-space",
    "notifications",
    "oauth",
    "organizations",
    "orgs",
    "papers",
    "posts",
    "pricing",
    "privacy",
    "raw",
    "ready",
    "resolve",
    "robots.txt",
    "search",
    "settings",
    "spaces",
    "static",
    "status",
    "support",
    "terms",
    "tree",
    "upload",
    "user",
    "users",
    "v1",
    "v2",
    "welcome",
];

/// Why `name` cannot name a user or an organization, if it cannot: HF's
/// rules (1-42 of letters, digits, `-`, `_`, `.`; starting with a letter or
/// digit; no `--` or `..`; not ending with `-` or `.`) and not reserved.
pub fn account_name_problem(name: &str) -> Option<String> {
    let valid = (1..=42).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.ends_with(['-', '.'])
        && !name.contains("--")
        && !name.contains("..");
    if !valid {
        return Some(format!(
            "Invalid name {name:?}: use 1-42 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ));
    }
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Some(format!("The name {name:?} is reserved"));
    }
    None
}

/// Validates a repo name part the way HF does: 1–96 of `[A-Za-z0-9._-]`,
/// no `--` or `..`, not starting or ending with `-`/`.`, not ending `.git`.
pub fn valid_repo_name(name: &str) -> bool {
    (1..=96).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.contains("--")
        && !name.contains("..")
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
        && !name.ends_with(".git")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        for good in ["alice", "Acme-Labs", "a.b_c", "x1"] {
            assert_eq!(account_name_problem(good), None, "{good}");
        }
        for bad in ["", "-a", ".a", "a-", "a--b", "a..b", "a b", "a/b", &"x".repeat(43)] {
            assert!(account_name_problem(bad).is_some(), "{bad:?}");
        }
        for reserved in ["settings", "API", "Models", "buckets", "new", "blob", "raw", "robots.txt"] {
            assert!(account_name_problem(reserved).unwrap().contains("reserved"), "{reserved}");
        }
    }

    #[test]
    fn repo_names() {
        assert!(valid_repo_name("gpt2-small_v1.0"));
        for bad in ["", "a--b", "a..b", "x.git", "-a", "a b", "a/b", &"x".repeat(97)] {
            assert!(!valid_repo_name(bad), "{bad:?}");
        }
    }
}
