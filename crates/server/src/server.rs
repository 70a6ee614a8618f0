//! Startup and shutdown: opens the store, prepares TLS, binds every listener (one log line
//! each) and, on shutdown, closes all streams cleanly before returning.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Accounts;
use crate::c2s::{self, C2sContext, is_loopback};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::router::Router;
use crate::storage::{SqliteStore, StoreError};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: io::Error },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error(
        "http.addr {0} is not a loopback address and this server serves HTTP without TLS: \
         put a TLS-terminating proxy in front and set http.allow_plaintext = true"
    )]
    PlaintextHttp(SocketAddr),
    #[error("configuration: {0}")]
    Config(String),
    #[error("webhooks: {0}")]
    Webhook(#[from] crate::webhook::WebhookError),
}

/// A started server. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub c2s_addr: SocketAddr,
    pub direct_tls_addr: Option<SocketAddr>,
    pub router: Router,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// Opens the store in `data_dir`, creating the directory when needed.
pub async fn open_store(data_dir: &Path) -> Result<SqliteStore, StartError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    Ok(SqliteStore::open(data_dir).await?)
}

async fn listen(addr: SocketAddr, what: &str) -> Result<TcpListener, StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    tracing::info!(addr = %bound, "{what} listening");
    Ok(listener)
}

pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    // One crypto provider for the whole process (TLS listeners, webhook HTTPS client): ring,
    // which builds without cmake. Installing twice (tests start many servers) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if !is_loopback(&config.http.addr) && !config.http.allow_plaintext {
        return Err(StartError::PlaintextHttp(config.http.addr));
    }
    // Configurations built in code skip the loader's checks; these are the ones code relies on.
    crate::webhook::check_config(&config).map_err(StartError::Config)?;
    let gate = http::gate::Gate::new(&config).map_err(StartError::Config)?;
    let store = Arc::new(open_store(&config.data_dir).await?);
    let accounts = Accounts::new(store, &config.domain, config.auth.scram_iterations);
    let components: Vec<String> = config.component.iter().map(|c| c.domain.clone()).collect();
    let admins: Vec<String> = config.admins.iter().map(ToString::to_string).collect();
    let router = Router::new(&config.domain, accounts, &admins, &components);
    let webhooks =
        crate::webhook::Webhooks::new(&config, router.accounts().store().clone()).await?;
    router.attach_webhooks(webhooks.clone());
    let (cert, key) = tls::resolve_paths(&config)?;
    let tls_config = tls::server_config(&cert, &key)?;
    let decoy = decoy_secret(&config.data_dir)?;

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tls::watch_expiry(cert, shutdown.clone(), &tasks);
    webhooks.spawn(router.clone(), shutdown.clone(), &tasks);
    let ctx = Arc::new(C2sContext::new(
        &config,
        router.clone(),
        tls_config,
        decoy,
        shutdown.clone(),
        tasks.clone(),
    ));

    let c2s_listener = listen(config.c2s.addr, "c2s (STARTTLS)").await?;
    let c2s_addr = c2s_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: config.c2s.addr,
            source,
        })?;
    tasks.spawn(c2s::tcp::serve(c2s_listener, ctx.clone(), false));

    let direct_tls_addr = match config.c2s.direct_tls_addr {
        Some(addr) => {
            let listener = listen(addr, "c2s (direct TLS)").await?;
            let bound = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            tasks.spawn(c2s::tcp::serve(listener, ctx.clone(), true));
            Some(bound)
        }
        None => None,
    };

    let http_listener = listen(config.http.addr, "http (/rest, /xmpp-websocket)").await?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: config.http.addr,
            source,
        })?;
    let app = http::app(AppState {
        router: router.clone(),
        c2s: ctx,
        rest: config.rest.clone(),
        gate: Arc::new(gate),
    });
    let http_shutdown = shutdown.clone();
    tasks.spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        // Small XMPP frames must not wait for Nagle's algorithm (~40 ms per stream start).
        let listener = http_listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });

    Ok(RunningServer {
        http_addr,
        c2s_addr,
        direct_tls_addr,
        router,
        shutdown,
        tasks,
    })
}

impl RunningServer {
    /// Closes every stream with `system-shutdown`, stops the listeners and waits (bounded)
    /// for connections to finish.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within 10 s");
        }
    }
}

/// A persistent secret from which SCRAM answers for unknown accounts are derived, so that
/// they look the same on every attempt and across restarts.
fn decoy_secret(data_dir: &Path) -> Result<Vec<u8>, StartError> {
    let path = data_dir.join("server.secret");
    if let Ok(secret) = std::fs::read(&path)
        && secret.len() >= 32
    {
        return Ok(secret);
    }
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    std::fs::write(&path, &secret).map_err(|source| StartError::DataDir {
        path: path.display().to_string(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(secret)
}
