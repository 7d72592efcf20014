//! Signed capabilities of the Xet CAS: access tokens (scoped to one repo and
//! an access level, with an expiry) and data URLs (one xorb byte range, with
//! an expiry). Both are blake3-keyed MACs under purpose-derived keys from one
//! server secret, which lives in the metadata DB so every process agrees.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_formats::MerkleHash;

/// What a CAS token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CasGrant {
    /// The repo whose content it reads or writes.
    pub repo_id: i64,
    /// Whether it may upload.
    pub write: bool,
    /// The user token it was minted through (`None`: anonymous), so the
    /// CAS can ask the access rule again on every request.
    pub token_id: Option<i64>,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// Why a CAS token or data URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not a token or URL we issued.
    #[error("invalid signature")]
    Invalid,
    /// Issued, but expired.
    #[error("expired")]
    Expired,
}

/// Signs and checks capabilities.
pub struct Signer {
    token_key: [u8; 32],
    url_key: [u8; 32],
}

impl Signer {
    /// A signer from the server secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            token_key: blake3::derive_key("tessera 2026 cas access token v1", secret),
            url_key: blake3::derive_key("tessera 2026 xorb data url v1", secret),
        }
    }

    fn token_mac(&self, body: &str) -> String {
        URL_SAFE_NO_PAD.encode(blake3::keyed_hash(&self.token_key, body.as_bytes()).as_bytes())
    }

    /// An opaque token for `grant`.
    pub fn cas_token(&self, grant: &CasGrant) -> String {
        let token_id = grant.token_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
        let access = if grant.write { "w" } else { "r" };
        let body = format!("xet2.{}.{access}.{token_id}.{}", grant.repo_id, grant.expires_at);
        let mac = self.token_mac(&body);
        format!("{body}.{mac}")
    }

    /// Checks a token at unix time `now`.
    pub fn verify_cas_token(&self, token: &str, now: i64) -> Result<CasGrant, SignatureError> {
        let (body, mac) = token.rsplit_once('.').ok_or(SignatureError::Invalid)?;
        if !constant_time_eq(self.token_mac(body).as_bytes(), mac.as_bytes()) {
            return Err(SignatureError::Invalid);
        }
        let mut parts = body.split('.');
        let (Some("xet2"), Some(repo_id), Some(access), Some(token_id), Some(expires_at), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Invalid);
        };
        let grant = CasGrant {
            repo_id: repo_id.parse().map_err(|_| SignatureError::Invalid)?,
            write: access == "w",
            token_id: match token_id {
                "-" => None,
                id => Some(id.parse().map_err(|_| SignatureError::Invalid)?),
            },
            expires_at: expires_at.parse().map_err(|_| SignatureError::Invalid)?,
        };
        if grant.expires_at <= now {
            return Err(SignatureError::Expired);
        }
        Ok(grant)
    }

    /// The signature of a data URL for bytes `start..=end` of a xorb until `expires_at`.
    pub fn data_url_signature(&self, xorb: &MerkleHash, start: u64, end: u64, expires_at: i64) -> String {
        let message = format!("{xorb}:{start}:{end}:{expires_at}");
        URL_SAFE_NO_PAD.encode(blake3::keyed_hash(&self.url_key, message.as_bytes()).as_bytes())
    }

    /// Checks a data URL's signature at unix time `now`.
    pub fn verify_data_url(
        &self,
        xorb: &MerkleHash,
        start: u64,
        end: u64,
        expires_at: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let expected = self.data_url_signature(xorb, start, end, expires_at);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(SignatureError::Invalid);
        }
        if expires_at <= now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// What a Git LFS object URL allows: one action on one object of one
/// repo, for the user token that asked for it, until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfsHref<'a> {
    /// `upload`, `download` or `verify`.
    pub action: &'a str,
    /// The repo.
    pub repo_id: i64,
    /// The user token the batch request came with (`None`: anonymous), so
    /// the access rule can be asked again when the URL is used.
    pub token_id: Option<i64>,
    /// The object's sha256, hex.
    pub oid: &'a str,
    /// Its size.
    pub size: u64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

impl Signer {
    /// The signature of a Git LFS object URL.
    pub fn lfs_signature(&self, href: &LfsHref<'_>) -> String {
        let token_id = href.token_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
        let message =
            format!("lfs2:{}:{}:{token_id}:{}:{}:{}", href.action, href.repo_id, href.oid, href.size, href.expires_at);
        URL_SAFE_NO_PAD.encode(blake3::keyed_hash(&self.url_key, message.as_bytes()).as_bytes())
    }

    /// Checks a Git LFS object URL's signature at unix time `now`.
    pub fn verify_lfs(&self, href: &LfsHref<'_>, signature: &str, now: i64) -> Result<(), SignatureError> {
        let expected = self.lfs_signature(href);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(SignatureError::Invalid);
        }
        if href.expires_at <= now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_expire() {
        let signer = Signer::new(b"secret");
        let grant = CasGrant { repo_id: 7, write: true, token_id: Some(3), expires_at: 1000 };
        let token = signer.cas_token(&grant);
        assert_eq!(signer.verify_cas_token(&token, 999), Ok(grant));
        assert_eq!(signer.verify_cas_token(&token, 1000), Err(SignatureError::Expired));
        let forged = token.replace("xet2.7.w", "xet2.8.w");
        assert_eq!(signer.verify_cas_token(&forged, 0), Err(SignatureError::Invalid));
        assert_eq!(Signer::new(b"other").verify_cas_token(&token, 0), Err(SignatureError::Invalid));
    }

    #[test]
    fn lfs_urls_name_one_action_and_object() {
        let signer = Signer::new(b"secret");
        let href = LfsHref { action: "upload", repo_id: 3, token_id: Some(9), oid: "ab", size: 10, expires_at: 50 };
        let signature = signer.lfs_signature(&href);
        assert!(signer.verify_lfs(&href, &signature, 49).is_ok());
        for forged in [
            LfsHref { action: "download", ..href },
            LfsHref { repo_id: 4, ..href },
            LfsHref { token_id: None, ..href },
            LfsHref { token_id: Some(8), ..href },
            LfsHref { size: 11, ..href },
        ] {
            assert_eq!(signer.verify_lfs(&forged, &signature, 49), Err(SignatureError::Invalid), "{forged:?}");
        }
        assert_eq!(signer.verify_lfs(&href, &signature, 50), Err(SignatureError::Expired));
    }

    #[test]
    fn data_urls_cover_one_range() {
        let signer = Signer::new(b"secret");
        let xorb = MerkleHash::default();
        let signature = signer.data_url_signature(&xorb, 0, 99, 50);
        assert!(signer.verify_data_url(&xorb, 0, 99, 50, &signature, 49).is_ok());
        assert_eq!(signer.verify_data_url(&xorb, 0, 100, 50, &signature, 49), Err(SignatureError::Invalid));
        assert_eq!(signer.verify_data_url(&xorb, 0, 99, 50, &signature, 50), Err(SignatureError::Expired));
    }
}
