//! Startup and shutdown: opens the store, prepares TLS, binds every listener (one log line
//! each) and, on shutdown, closes all streams cleanly before returning.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Accounts;
use crate::auth::cache::CacheSettings;
use crate::backup::{BackupError, DataDirLock};
use crate::c2s::{self, C2sContext, is_loopback};
use crate::config::Config;
use crate::ctx::{Ctx, Scope};
use crate::fdlimit;
use crate::http::cors::Cors;
use crate::http::gate::Gate;
use crate::http::listener::{self, Bounds, LiveBounds};
use crate::http::state::AppState;
use crate::http::surface::Edge;
use crate::http::tls::{self as https, HostedCerts, HttpsAcceptor};
use crate::reload;
use crate::router::{Handlers, Router};
use crate::services::mam::{
    filter::ArchiveFilter, queries::ArchiveQueries, retention, state::Archive,
};
use crate::services::muc::service::MucService;
use crate::services::{
    blocking, carbons, commands, component, disco, offline, pep, ping, presence, private, push,
    register, roster, upload, vcard, version,
};
use crate::sessions::LocalSessions;
use crate::storage::StoreError;
use crate::storage::sqlite::SqliteStore;
use crate::tls::{self, ServedCert, TlsError};
use crate::uploads::{self, Uploads};
use crate::webhook::Webhooks;
use switchboard_xmpp::ns;

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
        "http.addr {0} is not a loopback address and http.tls = false: set http.tls = true to \
         serve HTTPS, or put a TLS-terminating proxy in front and set http.allow_plaintext = true"
    )]
    PlaintextHttp(SocketAddr),
    #[error("configuration: {0}")]
    Config(String),
    #[error("webhooks: {0}")]
    Webhook(#[from] crate::webhook::WebhookError),
    #[error("{0}")]
    Locked(#[from] BackupError),
}

/// Why a reloaded configuration was not put in force (the running one stays).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("webhooks: {0}")]
    Webhook(#[from] crate::webhook::WebhookError),
}

/// A started server. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub http_addr: SocketAddr,
    /// Whether `http_addr` speaks HTTPS (`http.tls`).
    pub http_tls: bool,
    /// The extra HTTPS listener (`http.https_addr`).
    pub https_addr: Option<SocketAddr>,
    pub c2s_addr: SocketAddr,
    pub direct_tls_addr: Option<SocketAddr>,
    /// Owns the dispatching: the server delivers stanzas while this lives.
    router: Router,
    /// What a reload swaps: the HTTP edge's gate and CORS policy, the callbacks, the certificate.
    edge: Edge,
    bounds: LiveBounds,
    webhooks: Webhooks,
    certificate: Arc<ServedCert>,
    /// Hosted domains' own HTTPS certificates, when HTTPS is served.
    hosted_certs: Option<Arc<HostedCerts>>,
    /// The group chat service, when `muc.enabled`.
    muc: Option<Arc<MucService>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// `restore` and a second server keep off the data directory while this lives.
    _lock: DataDirLock,
}

/// Opens the store in `data_dir`, creating the directory when needed.
pub async fn open_store(data_dir: &Path) -> Result<SqliteStore, StartError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    Ok(SqliteStore::open(data_dir).await?)
}

/// Raises the descriptor limit as far as allowed and says so when the connection caps need
/// more: a cap the kernel reaches first refuses connections with `EMFILE` instead of a
/// stream error.
fn check_descriptors(config: &Config) {
    match fdlimit::raise_nofile() {
        Ok(available) => {
            tracing::info!(
                available,
                "file descriptors: soft limit raised to the hard one"
            );
            if let Some(warning) = fdlimit::shortfall(config, available) {
                tracing::warn!("{warning}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the file descriptor limit"),
    }
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
    let http_tls = config
        .http
        .tls
        .unwrap_or_else(|| !is_loopback(&config.http.addr) && !config.http.allow_plaintext);
    if !http_tls && !is_loopback(&config.http.addr) && !config.http.allow_plaintext {
        return Err(StartError::PlaintextHttp(config.http.addr));
    }
    // Configurations built in code skip the loader's checks; these are the ones code relies on.
    config.check().map_err(StartError::Config)?;
    check_descriptors(&config);
    let gate = Gate::new(&config).map_err(StartError::Config)?;
    let cors = Cors::new(&config.http.cors_origins).map_err(StartError::Config)?;
    let bounds = LiveBounds::new(
        Bounds::new(&config.http, gate.trusted_proxies().to_vec()).map_err(StartError::Config)?,
    );
    let lock = DataDirLock::acquire(&config.data_dir)?;
    let store = Arc::new(open_store(&config.data_dir).await?);
    let accounts = Accounts::new(store.clone(), &config.domain, config.auth.scram_iterations)
        .with_cache(CacheSettings {
            capacity: config.auth.credential_cache_size,
            password_ttl: Duration::from_secs(config.auth.credential_cache_ttl_secs),
            poll_every: Duration::from_millis(config.auth.credential_poll_ms),
        });
    let server = Ctx::new(
        Arc::new(config.clone()),
        accounts,
        Arc::new(LocalSessions::default()),
    );
    let webhooks = Webhooks::new(&config, store, server.metrics().registry()).await?;
    let decoy = decoy_secret(&config.data_dir)?;
    let uploads = Uploads::new(&config.data_dir, &decoy);
    let muc = config.muc.enabled.then(|| {
        let domain = config.muc.domain_for(&config.domain);
        Arc::new(MucService::new(server.clone(), domain))
    });
    let router = Router::new(
        server.clone(),
        handlers(&config, &webhooks, &uploads, muc.as_ref()),
    );
    let (cert, key) = tls::resolve_paths(&config)?;
    let certificate = Arc::new(ServedCert::load(&cert, &key)?);
    let tls_config = tls::serving(certificate.clone())?;
    if let Ok(info) = tls::inspect(&cert) {
        server.metrics().set_certificate_expiry(info.not_after);
    }
    let hosted_certs = if http_tls || config.http.https_addr.is_some() {
        let named = HostedCerts::load(&config.data_dir, &hosted_domains(&config))?;
        Some(Arc::new(HostedCerts::new(certificate.clone(), named)))
    } else {
        None
    };
    let https = match &hosted_certs {
        Some(certs) => Some(HttpsAcceptor::new(https::server_config(certs.clone())?)),
        None => None,
    };

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tls::watch_expiry(cert, shutdown.clone(), &tasks);
    crate::webhook::spawn(&webhooks, server.clone(), shutdown.clone(), &tasks);
    retention::spawn(server.clone(), shutdown.clone(), &tasks);
    if config.upload.enabled {
        uploads::spawn_purge(server.clone(), shutdown.clone(), &tasks);
    }
    let ctx = Arc::new(C2sContext::new(
        &config,
        server.clone(),
        tls_config,
        decoy,
        gate.auth_throttle().clone(),
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

    let what = if http_tls {
        "https (/rest, /xmpp-websocket)"
    } else {
        "http (/rest, /xmpp-websocket)"
    };
    let http_listener = listen(config.http.addr, what).await?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            addr: config.http.addr,
            source,
        })?;
    let scheme = if http_tls { "https" } else { "http" };
    uploads.set_listener(format!("{scheme}://{http_addr}"));
    let mut state = AppState::new(
        server,
        webhooks.clone(),
        ctx,
        config.rest.clone(),
        gate,
        cors,
        Duration::from_secs(config.http.body_timeout_secs),
    );
    if config.upload.enabled {
        let transfer = Duration::from_secs(config.upload.transfer_timeout_secs);
        state = state.with_uploads(uploads, transfer);
    }
    if let Some(muc) = &muc {
        state = state.with_muc(muc.clone());
    }
    let edge = state.edge();
    let app = crate::http::app(state, &config.http).map_err(StartError::Config)?;
    let https_addr = match (config.http.https_addr, &https) {
        (Some(addr), Some(https)) => {
            let listener = listen(addr, "https (/rest, /xmpp-websocket)").await?;
            let bound = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            tasks.spawn(listener::serve(
                listener,
                app.clone(),
                bounds.clone(),
                Some(https.clone()),
                shutdown.clone(),
                tasks.clone(),
            ));
            Some(bound)
        }
        _ => None,
    };
    tasks.spawn(listener::serve(
        http_listener,
        app,
        bounds.clone(),
        https.filter(|_| http_tls),
        shutdown.clone(),
        tasks.clone(),
    ));

    Ok(RunningServer {
        http_addr,
        http_tls,
        https_addr,
        c2s_addr,
        direct_tls_addr,
        router,
        edge,
        bounds,
        webhooks,
        certificate,
        hosted_certs,
        muc,
        shutdown,
        tasks,
        _lock: lock,
    })
}

/// The domains served besides the server's own, which may have HTTPS certificates of their own.
fn hosted_domains(config: &Config) -> Vec<String> {
    config.component.iter().map(|c| c.domain.clone()).collect()
}

/// Every service of the server, registered with the router by what it handles.
fn handlers(
    config: &Config,
    webhooks: &Webhooks,
    uploads: &Uploads,
    muc: Option<&Arc<MucService>>,
) -> Handlers {
    let blocking = Arc::new(blocking::Blocking::new(config.limits.blocklist_cache_size));
    let carbons = Arc::new(carbons::Carbons);
    let archive = Arc::new(Archive::default());
    let pep = pep::Pep::new(config.pep.caps_cache_size, config.pep.avatar_cache_size);
    let mut handlers = Handlers::default()
        .server_iq(ns::PING, Arc::new(ping::ServerPing))
        .server_iq(ns::VERSION, Arc::new(version::Version))
        .server_iq(ns::COMMANDS, Arc::new(commands::Commands))
        .server_iq(ns::REGISTER, Arc::new(register::Register))
        .account_iq(ns::REGISTER, Arc::new(register::Register))
        .account_iq(ns::ROSTER, Arc::new(roster::Roster))
        .account_iq(ns::PING, Arc::new(ping::AccountPing))
        .account_iq(ns::BLOCKING, blocking.clone())
        .account_iq(ns::CARBONS, carbons.clone())
        .account_iq(ns::MAM, Arc::new(ArchiveQueries::new(archive.clone())))
        .account_iq(ns::PUBSUB, Arc::new(pep.clone()))
        .account_iq(ns::PUBSUB_OWNER, Arc::new(pep.clone()))
        .account_iq(ns::VCARD, Arc::new(vcard::Vcard::new(pep.clone())))
        .account_iq(ns::PRIVATE, Arc::new(private::Private::new(pep.clone())))
        .presence(Arc::new(presence::Presence::with_divert(Arc::new(
            webhooks.clone(),
        ))))
        .offline(Arc::new(offline::Offline))
        .divert(Arc::new(webhooks.clone()))
        // Filters run in this order: blocking first, so that nothing blocked changes a roster,
        // is archived or copied; carbons last, so that copies carry what the filters before added.
        .filter(blocking)
        .filter(Arc::new(presence::OutboundPresence))
        .filter(Arc::new(pep))
        .filter(Arc::new(ArchiveFilter::new(archive)))
        .filter(carbons);
    if config.push.enabled {
        // Last: it only looks, once the filters before have had their say.
        handlers = handlers
            .account_iq(ns::PUSH, Arc::new(push::PushRegistrations))
            .filter(Arc::new(push::PushNotifier));
    }
    for c in &config.component {
        let service = component::Component {
            domain: c.domain.clone(),
            webhooks: webhooks.clone(),
        };
        handlers = handlers.hosted(&c.domain, Arc::new(service));
    }
    let mut items = Vec::new();
    if config.upload.enabled {
        let domain = config.upload.domain_for(&config.domain);
        let service = upload::UploadService::new(uploads.clone());
        handlers = handlers.hosted(&domain, Arc::new(service));
        items.push(domain);
    }
    if let Some(muc) = muc {
        handlers = handlers.hosted(muc.domain(), muc.clone());
        items.push(muc.domain().to_owned());
    }
    // Last: disco#info lists the features of everything registered above.
    let server_disco =
        Arc::new(disco::ServerDisco::new(handlers.features(Scope::Server)).with_items(items));
    let account_disco = Arc::new(disco::AccountDisco::new(handlers.features(Scope::Account)));
    handlers
        .server_iq(ns::DISCO_INFO, server_disco.clone())
        .server_iq(ns::DISCO_ITEMS, server_disco)
        .account_iq(ns::DISCO_INFO, account_disco)
}

impl RunningServer {
    /// The accounts of the running server.
    pub fn accounts(&self) -> &Accounts {
        self.router.ctx().accounts()
    }

    /// The group chat service and its in-process API, when `muc.enabled`.
    pub fn muc(&self) -> Option<&Arc<MucService>> {
        self.muc.as_ref()
    }

    /// Puts a reloaded configuration in force without dropping anything: admins, limits, access
    /// rules, credentials, CORS origins, callbacks and the certificate apply to what comes next.
    /// Values only read at start are kept (and returned, to be reported); a configuration that
    /// fails its checks, or whose certificate or callbacks cannot be loaded, changes nothing.
    pub async fn reload(&self, config: Config) -> Result<Vec<&'static str>, ReloadError> {
        let ctx = self.router.ctx();
        let result = self.apply(ctx, config).await;
        ctx.metrics().reloaded(result.is_ok());
        result
    }

    /// Counts a reload whose configuration could not even be read.
    pub fn reload_failed(&self) {
        self.router.ctx().metrics().reloaded(false);
    }

    async fn apply(&self, ctx: &Ctx, config: Config) -> Result<Vec<&'static str>, ReloadError> {
        config.check().map_err(ReloadError::Config)?;
        let plan = reload::plan(&ctx.config(), config);
        let config = plan.config;
        // Failed logins counted so far stay counted.
        let gate = Gate::new(&config)
            .map_err(ReloadError::Config)?
            .sharing_throttle(self.edge.gate().auth_throttle().clone());
        let cors = Cors::new(&config.http.cors_origins).map_err(ReloadError::Config)?;
        let bounds = Bounds::new(&config.http, gate.trusted_proxies().to_vec())
            .map_err(ReloadError::Config)?;
        let (cert, key) = tls::resolve_paths(&config)?;
        let certificate = ServedCert::load(&cert, &key)?;
        let not_after = tls::inspect(&cert).map(|info| info.not_after);
        let hosted = match &self.hosted_certs {
            Some(_) => Some(HostedCerts::load(
                &config.data_dir,
                &hosted_domains(&config),
            )?),
            None => None,
        };
        self.webhooks.reconfigure(&config).await?;
        // Nothing fails from here on: the new configuration goes in force as a whole.
        self.certificate.take(certificate);
        if let (Some(certs), Some(hosted)) = (&self.hosted_certs, hosted) {
            certs.take(hosted);
        }
        if let Ok(not_after) = not_after {
            ctx.metrics().set_certificate_expiry(not_after);
        }
        self.edge.replace(gate, cors);
        self.bounds.replace(bounds);
        ctx.reconfigure(Arc::new(config));
        Ok(plan.restart_needed)
    }

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
