//! Passwords for browser sign-in: argon2id PHC strings (RustCrypto's
//! defaults: 19 MiB, 2 passes), hashed and checked off the async threads.
//! Passwords themselves are never stored or logged.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use rand::Rng as _;

use crate::error::{ApiError, ApiResult};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why `password` cannot be set, if it cannot.
pub fn password_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Some(format!("A password needs at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Some(format!("A password may have at most {MAX_PASSWORD_LEN} bytes"));
    }
    None
}

/// The PHC string of a new password (400 if it is too short or too long).
pub async fn hash_password(password: String) -> ApiResult<String> {
    if let Some(problem) = password_problem(&password) {
        return Err(ApiError::BadRequest(problem));
    }
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(ApiError::internal)?;
        let hash = Argon2::default().hash_password(password.as_bytes(), &salt).map_err(ApiError::internal)?;
        Ok(hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches the PHC string `hash`.
pub async fn verify_password(password: String, hash: String) -> ApiResult<bool> {
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), hash.clone()).await.unwrap());
        assert!(!verify_password("wrong horse".into(), hash).await.unwrap());
        assert!(hash_password("short".into()).await.is_err());
    }
}
