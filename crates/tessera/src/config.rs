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
//! | xorb uploads in flight per process | `--max-concurrent-xorb-uploads` | `TESSERA_MAX_CONCURRENT_XORB_UPLOADS` | 8 |

use std::net::SocketAddr;
use std::num::NonZeroUsize;
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
    /// Xorb uploads in flight per process; more are answered 503 + Retry-After [default: 8].
    #[arg(long, env = "TESSERA_MAX_CONCURRENT_XORB_UPLOADS")]
    pub max_concurrent_xorb_uploads: Option<NonZeroUsize>,
}

/// The config file's contents; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    max_concurrent_xorb_uploads: Option<NonZeroUsize>,
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
    /// Cap on xorb uploads in flight.
    pub max_concurrent_xorb_uploads: usize,
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
        let max_concurrent_xorb_uploads = serve
            .and_then(|s| s.max_concurrent_xorb_uploads)
            .or(file.max_concurrent_xorb_uploads)
            .map_or(tessera_api::App::DEFAULT_MAX_CONCURRENT_XORB_UPLOADS, NonZeroUsize::get);
        Ok(Self { data_dir, database_url, listen, public_url, max_concurrent_xorb_uploads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(config: Option<PathBuf>, data_dir: Option<&str>) -> StoreArgs {
        StoreArgs { config, data_dir: data_dir.map(PathBuf::from), database_url: None }
    }

    #[test]
    fn defaults_apply_without_configuration() {
        let settings = Settings::resolve(&store(None, None), None).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("data"));
        assert_eq!(settings.database_url, "sqlite://data/tessera.db?mode=rwc");
        assert_eq!(settings.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(settings.public_url, None);
        assert_eq!(settings.max_concurrent_xorb_uploads, 8);
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/from-file\"\nlisten = \"127.0.0.1:9000\"\npublic_url = \"https://hub.example/\"\n\
             max_concurrent_xorb_uploads = 4\n",
        )
        .unwrap();
        let from_file = Settings::resolve(&store(Some(file.clone()), None), None).unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("/srv/from-file"));
        assert_eq!(from_file.database_url, "sqlite:///srv/from-file/tessera.db?mode=rwc");
        assert_eq!(from_file.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(from_file.public_url.as_deref(), Some("https://hub.example"));
        assert_eq!(from_file.max_concurrent_xorb_uploads, 4);

        let serve = ServeArgs {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            public_url: None,
            max_concurrent_xorb_uploads: NonZeroUsize::new(2),
        };
        let flagged = Settings::resolve(&store(Some(file), Some("/srv/flag")), Some(&serve)).unwrap();
        assert_eq!(flagged.data_dir, PathBuf::from("/srv/flag"));
        assert_eq!(flagged.listen.port(), 0);
        assert_eq!(flagged.public_url.as_deref(), Some("https://hub.example"));
        assert_eq!(flagged.max_concurrent_xorb_uploads, 2);
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(&file, "data_dri = \"typo\"\n").unwrap();
        let error = Settings::resolve(&store(Some(file), None), None).unwrap_err();
        assert!(format!("{error:#}").contains("data_dri"), "{error:#}");
    }
}
