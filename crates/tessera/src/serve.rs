//! `tessera serve`: one process serving the Hub API and the Xet CAS.

use std::sync::Arc;

use anyhow::Context as _;
use axum::http::HeaderName;
use tessera_api::signing::Signer;
use tessera_api::{App, AppState};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::stores;

/// Server secret name in the settings table.
const SIGNING_SECRET: &str = "signing_secret";

/// Runs the server until interrupted.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let stores = stores::open(&settings).await?;
    let secret = stores.db.setting_or_insert(SIGNING_SECRET, rand::random::<[u8; 32]>().to_vec()).await?;
    let listener =
        tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr()?;
    let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{address}"));

    tracing::info!(
        db.backend = stores.db_backend,
        blobs = %stores.blobs.describe(),
        data_dir = %settings.data_dir.display(),
        "stores open"
    );
    if stores.db.user_count().await? == 0 {
        println!(
            "No users yet. Create the first admin and its token with:\n  tessera admin user create <name> --admin{}",
            if settings.data_dir.as_os_str() == "data" {
                String::new()
            } else {
                format!(" --data-dir {}", settings.data_dir.display())
            }
        );
    }

    let state = AppState(Arc::new(App {
        db: stores.db,
        blobs: stores.blobs,
        public_url: public_url.clone(),
        signer: Signer::new(&secret),
        cas_token_ttl_secs: 3600,
        data_url_ttl_secs: 3600,
    }));
    let request_id = HeaderName::from_static("x-request-id");
    let app = tessera_hub::router()
        .merge(tessera_cas::router())
        .with_state(state)
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));

    // The first stdout line tests read to find the port.
    println!("tessera listening on {public_url}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
