//! Settings, layered: built-in defaults < config file (TOML) < `TESSERA_*`
//! environment variables < command-line flags.
//!
//! | setting | flag | env | default |
//! |---|---|---|---|
//! | config file | `--config` | `TESSERA_CONFIG` | none |
//! | data directory | `--data-dir` | `TESSERA_DATA_DIR` | `./data` |
//! | metadata DB | `--database-url` | `TESSERA_DATABASE_URL` | SQLite at `<data dir>/tessera.db` |
//! | listen address | `--listen` | `TESSERA_LISTEN` | `127.0.0.1:8080` |
//! | public URL | `--public-url` | `TESSERA_PUBLIC_URL` | `http://<listen address>` |

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

/// Settings every command needs to reach the stores.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// TOML config file with any of `data_dir`, `database_url`, `listen`, `public_url`.
    #[arg(long, env = "TESSERA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where the embedded database and blobs live [default: ./data].
    #[arg(long, env = "TESSERA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Metadata database URL (`sqlite://…` or `postgres://…`) [default: SQLite in the data dir].
    #[arg(long, env = "TESSERA_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Settings of `tessera serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Base of every absolute URL the server returns [default: http://<listen address>].
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// The config file's contents; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Metadata database URL (may hold a password: never log it).
    pub database_url: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// Public URL, if configured.
    pub public_url: Option<String>,
}

impl Settings {
    /// Resolves the layers.
    pub fn resolve(store: &StoreArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Self> {
        let file = match &store.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = store.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let database_url = store
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("tessera.db").display()));
        let listen =
            serve.and_then(|s| s.listen).or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = serve
            .and_then(|s| s.public_url.clone())
            .or(file.public_url)
            .map(|url| url.trim_end_matches('/').to_owned());
        Ok(Self { data_dir, database_url, listen, public_url })
    }
}
