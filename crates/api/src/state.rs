//! The application state every handler receives.

use std::ops::Deref;
use std::sync::Arc;

use tessera_db::MetadataStore;
use tessera_storage::BlobStore;
use tokio::sync::Semaphore;

use crate::signing::Signer;

/// Everything handlers share. Built once at start-up by the server binary.
pub struct App {
    /// The metadata store.
    pub db: Arc<dyn MetadataStore>,
    /// The blob store.
    pub blobs: Arc<dyn BlobStore>,
    /// Base of every absolute URL the server returns (no trailing `/`).
    pub public_url: String,
    /// Signs CAS tokens and data URLs (its key is shared through the DB).
    pub signer: Signer,
    /// Lifetime of CAS access tokens, seconds.
    pub cas_token_ttl_secs: i64,
    /// Lifetime of signed data URLs, seconds.
    pub data_url_ttl_secs: i64,
    /// Permits for xorb uploads in flight in this process; an upload that
    /// finds none free is answered 503 with `Retry-After` (hf_xet retries).
    /// Sized by `TESSERA_MAX_CONCURRENT_XORB_UPLOADS`.
    pub xorb_uploads: Semaphore,
    /// Who may make an account at `/join` (`TESSERA_SIGNUP`).
    pub signup: Signup,
}

/// Who may make an account in the browser at `/join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signup {
    /// Nobody: admins create accounts (`tessera admin user create`). The default.
    #[default]
    Off,
    /// Anyone who can reach the server.
    Open,
    /// Whoever holds an unused invitation (`tessera admin invite create`).
    Invite,
}

impl std::str::FromStr for Signup {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "open" => Ok(Self::Open),
            "invite" => Ok(Self::Invite),
            other => Err(format!("sign-up must be off, open or invite, not {other:?}")),
        }
    }
}

/// Cheaply clonable handle on [`App`].
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// The state of a server: CAS tokens and data URLs live one hour, and
    /// `max_concurrent_xorb_uploads` xorb uploads may be in flight at once.
    pub fn new(
        db: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        public_url: String,
        secret: &[u8],
        max_concurrent_xorb_uploads: usize,
    ) -> Self {
        Self(Arc::new(App {
            db,
            blobs,
            public_url,
            signer: Signer::new(secret),
            cas_token_ttl_secs: App::DEFAULT_TTL_SECS,
            data_url_ttl_secs: App::DEFAULT_TTL_SECS,
            xorb_uploads: Semaphore::new(max_concurrent_xorb_uploads),
            signup: Signup::Off,
        }))
    }

    /// This state with the sign-up policy `signup`; call before the state is shared.
    pub fn with_signup(mut self, signup: Signup) -> Self {
        Arc::get_mut(&mut self.0).expect("the sign-up policy is set before the state is shared").signup = signup;
        self
    }
}

impl App {
    /// Default cap on concurrent xorb uploads per process.
    pub const DEFAULT_MAX_CONCURRENT_XORB_UPLOADS: usize = 8;

    /// Lifetime of CAS tokens and data URLs, seconds: well past hf_xet's
    /// 30-second refresh margin.
    pub const DEFAULT_TTL_SECS: i64 = 3600;

    /// `{public_url}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}
