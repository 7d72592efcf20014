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
//! | S3 bucket for blobs (set: blobs in S3) | `--s3-bucket` | `TESSERA_S3_BUCKET` | none: blobs under `<data dir>/blobs` |
//! | S3 endpoint URL | `--s3-endpoint` | `TESSERA_S3_ENDPOINT` | AWS |
//! | S3 region | `--s3-region` | `TESSERA_S3_REGION` | `us-east-1` |
//! | S3 path-style addressing | `--s3-force-path-style[=BOOL]` | `TESSERA_S3_FORCE_PATH_STYLE` | `false` |
//! | xorb uploads in flight per process | `--max-concurrent-xorb-uploads` | `TESSERA_MAX_CONCURRENT_XORB_UPLOADS` | 8 |
//! | sign-up at `/join`: `off`, `open` or `invite` | `--signup` | `TESSERA_SIGNUP` | `off` |

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;
use tessera_api::Signup;
use tessera_storage::S3Config;

/// Settings every command needs to reach the stores.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// TOML config file; keys are the long flags in snake case (`data_dir`, `s3_bucket`, …).
    #[arg(long, env = "TESSERA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where the embedded database and blobs live [default: ./data].
    #[arg(long, env = "TESSERA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Metadata database URL (`sqlite://…` or `postgres://…`) [default: SQLite in the data dir].
    #[arg(long, env = "TESSERA_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Keep blobs in this S3 bucket (which must exist) instead of the data dir;
    /// credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`, …).
    #[arg(long, env = "TESSERA_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// S3 endpoint URL, for S3-compatible servers [default: AWS].
    #[arg(long, env = "TESSERA_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// S3 region requests are signed for [default: us-east-1].
    #[arg(long, env = "TESSERA_S3_REGION", global = true)]
    pub s3_region: Option<String>,
    /// Path-style S3 addressing (`<endpoint>/<bucket>/<key>`), which most
    /// self-hosted S3 servers need [default: false].
    #[arg(
        long,
        env = "TESSERA_S3_FORCE_PATH_STYLE",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub s3_force_path_style: Option<bool>,
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
    /// Who may make an account at /join: off (admins only), open, or invite
    /// (with a code from `tessera admin invite create`) [default: off].
    #[arg(long, env = "TESSERA_SIGNUP")]
    pub signup: Option<Signup>,
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
    signup: Option<String>,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_force_path_style: Option<bool>,
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
    /// The S3 bucket blobs live in, if one is configured (else the data dir).
    pub s3: Option<S3Config>,
    /// Who may make an account at `/join`.
    pub signup: Signup,
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
        let s3 = resolve_s3(store, &file)?;
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
        let signup = match (serve.and_then(|s| s.signup), file.signup) {
            (Some(signup), _) => signup,
            (None, Some(text)) => text.parse().map_err(anyhow::Error::msg).context("the signup setting")?,
            (None, None) => Signup::Off,
        };
        Ok(Self { data_dir, database_url, listen, public_url, max_concurrent_xorb_uploads, s3, signup })
    }
}

/// The S3 settings, flags and environment over the file; S3 options without
/// a bucket are an error rather than a silent fallback to local disk.
fn resolve_s3(store: &StoreArgs, file: &FileConfig) -> anyhow::Result<Option<S3Config>> {
    let bucket = store.s3_bucket.clone().or_else(|| file.s3_bucket.clone()).filter(|bucket| !bucket.is_empty());
    let endpoint = store.s3_endpoint.clone().or_else(|| file.s3_endpoint.clone()).filter(|url| !url.is_empty());
    let region = store.s3_region.clone().or_else(|| file.s3_region.clone()).filter(|region| !region.is_empty());
    let force_path_style = store.s3_force_path_style.or(file.s3_force_path_style);
    let Some(bucket) = bucket else {
        if endpoint.is_some() || region.is_some() || force_path_style.is_some() {
            anyhow::bail!("S3 endpoint, region or addressing is set but no bucket (TESSERA_S3_BUCKET / s3_bucket)");
        }
        return Ok(None);
    };
    Ok(Some(S3Config {
        bucket,
        endpoint,
        region: region.unwrap_or_else(|| "us-east-1".to_owned()),
        force_path_style: force_path_style.unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(config: Option<PathBuf>, data_dir: Option<&str>) -> StoreArgs {
        StoreArgs {
            config,
            data_dir: data_dir.map(PathBuf::from),
            database_url: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_force_path_style: None,
        }
    }

    #[test]
    fn defaults_apply_without_configuration() {
        let settings = Settings::resolve(&store(None, None), None).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("data"));
        assert_eq!(settings.database_url, "sqlite://data/tessera.db?mode=rwc");
        assert_eq!(settings.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(settings.public_url, None);
        assert_eq!(settings.s3, None);
        assert_eq!(settings.max_concurrent_xorb_uploads, 8);
        assert_eq!(settings.signup, Signup::Off);
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/from-file\"\nlisten = \"127.0.0.1:9000\"\npublic_url = \"https://hub.example/\"\n\
             max_concurrent_xorb_uploads = 4\nsignup = \"invite\"\n",
        )
        .unwrap();
        let from_file = Settings::resolve(&store(Some(file.clone()), None), None).unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("/srv/from-file"));
        assert_eq!(from_file.database_url, "sqlite:///srv/from-file/tessera.db?mode=rwc");
        assert_eq!(from_file.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(from_file.public_url.as_deref(), Some("https://hub.example"));
        assert_eq!(from_file.max_concurrent_xorb_uploads, 4);
        assert_eq!(from_file.signup, Signup::Invite);

        let serve = ServeArgs {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            public_url: None,
            max_concurrent_xorb_uploads: NonZeroUsize::new(2),
            signup: Some(Signup::Open),
        };
        let flagged = Settings::resolve(&store(Some(file), Some("/srv/flag")), Some(&serve)).unwrap();
        assert_eq!(flagged.data_dir, PathBuf::from("/srv/flag"));
        assert_eq!(flagged.listen.port(), 0);
        assert_eq!(flagged.public_url.as_deref(), Some("https://hub.example"));
        assert_eq!(flagged.max_concurrent_xorb_uploads, 2);
        assert_eq!(flagged.signup, Signup::Open);
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

#[cfg(test)]
mod s3_tests {
    use std::path::Path;

    use super::*;
    use clap::Parser as _;

    fn args(
        config: Option<&Path>,
        bucket: Option<&str>,
        endpoint: Option<&str>,
        path_style: Option<bool>,
    ) -> StoreArgs {
        StoreArgs {
            config: config.map(Path::to_path_buf),
            data_dir: None,
            database_url: None,
            s3_bucket: bucket.map(str::to_owned),
            s3_endpoint: endpoint.map(str::to_owned),
            s3_region: None,
            s3_force_path_style: path_style,
        }
    }

    #[test]
    fn a_bucket_selects_s3_with_defaults() {
        let settings = Settings::resolve(&args(None, Some("blobs"), None, None), None).unwrap();
        let expected =
            S3Config { bucket: "blobs".into(), endpoint: None, region: "us-east-1".into(), force_path_style: false };
        assert_eq!(settings.s3, Some(expected));
    }

    #[test]
    fn s3_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "s3_bucket = \"from-file\"\ns3_endpoint = \"http://127.0.0.1:9000\"\ns3_region = \"eu-west-1\"\n\
             s3_force_path_style = true\n",
        )
        .unwrap();
        let from_file = Settings::resolve(&args(Some(&file), None, None, None), None).unwrap().s3.unwrap();
        assert_eq!(from_file.bucket, "from-file");
        assert_eq!(from_file.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(from_file.region, "eu-west-1");
        assert!(from_file.force_path_style);

        let flagged = Settings::resolve(&args(Some(&file), Some("flagged"), None, Some(false)), None).unwrap();
        let flagged = flagged.s3.unwrap();
        assert_eq!(flagged.bucket, "flagged");
        assert_eq!(flagged.region, "eu-west-1");
        assert!(!flagged.force_path_style);
    }

    #[test]
    fn path_style_is_a_flag_with_an_optional_value() {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            store: StoreArgs,
        }
        // Explicit flags win over any TESSERA_S3_* in the test's environment.
        for (flag, expected) in [("--s3-force-path-style", true), ("--s3-force-path-style=false", false)] {
            let cli = Cli::try_parse_from(["tessera", flag]).unwrap();
            assert_eq!(cli.store.s3_force_path_style, Some(expected), "{flag}");
        }
    }

    #[test]
    fn s3_options_without_a_bucket_are_errors() {
        let error = Settings::resolve(&args(None, None, Some("http://127.0.0.1:9000"), None), None).unwrap_err();
        assert!(error.to_string().contains("no bucket"), "{error:#}");
    }
}
