//! TLS material: the configured or the data directory's pair (generated, or installed by `cert
//! import`) served through a resolver that a reload swaps; inspection and expiry warnings.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use x509_parser::extensions::GeneralName;

use crate::config::Config;

/// A certificate closer than this to its end is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// How often a running server looks at its certificate's expiry again.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("cannot parse the certificate in {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("no certificate for {domain} found; looked for fullchain.pem and privkey.pem in {}", .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        domain: String,
        looked: Vec<PathBuf>,
    },
    #[error("the certificate in {path} is for {}, not for {domain}", .names.join(", "))]
    WrongName {
        path: PathBuf,
        domain: String,
        names: Vec<String>,
    },
    #[error("the certificate in {path} expired on {not_after}")]
    Expired { path: PathBuf, not_after: String },
}

/// Where the data directory's pair lives: generated there on first start unless `tls.cert` and
/// `tls.key` are configured, and replaced by `switchboard cert import`.
pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Writes a self-signed certificate whose subject (CN) is `domain`, valid for `domain` and its
/// subdomains (SAN), to `cert`/`key`. Clients show the subject in their trust prompt.
pub fn write_self_signed(domain: &str, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned(), format!("*.{domain}")])?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, domain);
    params.distinguished_name = subject;
    let key_pair = rcgen::KeyPair::generate()?;
    let certificate = params.self_signed(&key_pair)?;
    install_pair(
        cert,
        certificate.pem().as_bytes(),
        key,
        key_pair.serialize_pem().as_bytes(),
    )
}

/// Writes both files through temporary names and renames, so that neither is ever seen half
/// written; the key is readable by its owner only from its first byte.
fn install_pair(cert: &Path, cert_pem: &[u8], key: &Path, key_pem: &[u8]) -> Result<(), TlsError> {
    write_replacing(key, key_pem, true)?;
    write_replacing(cert, cert_pem, false)
}

fn write_replacing(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    let error = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temporary).map_err(error)?;
    file.write_all(contents).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

/// The certificate and key paths in force: configured ones, or the data directory's (generated
/// on first use).
pub fn resolve_paths(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let (cert, key) = generated_paths(&config.data_dir);
    if !cert.exists() || !key.exists() {
        tracing::info!(cert = %cert.display(), "generating a self-signed certificate for {}", config.domain);
        write_self_signed(&config.domain, &cert, &key)?;
    }
    Ok((cert, key))
}

/// A rustls configuration serving the pair at `cert` and `key`.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    serving(Arc::new(ServedCert::load(cert, key)?))
}

/// A rustls configuration serving whatever `served` holds at each handshake.
pub fn serving(served: Arc<ServedCert>) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(served);
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate a server presents, replaced whole by a reload: handshakes that start after
/// [`ServedCert::take`] present the new pair, established connections keep theirs.
#[derive(Debug)]
pub struct ServedCert(ArcSwap<CertifiedKey>);

impl ServedCert {
    pub fn load(cert: &Path, key: &Path) -> Result<ServedCert, TlsError> {
        Ok(ServedCert(ArcSwap::from_pointee(certified_key(cert, key)?)))
    }

    /// Serves the pair `other` holds from now on.
    pub fn take(&self, other: ServedCert) {
        self.0.store(other.0.into_inner());
    }
}

impl ResolvesServerCert for ServedCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// Reads a PEM chain and its key, checking that they belong together.
pub fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read_err(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read_err(key, e))?;
    Ok(CertifiedKey::from_der(chain, key_der, &provider())?)
}

/// What the first certificate of a PEM chain says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject common name(s).
    pub subject: Vec<String>,
    /// DNS names of the subject alternative name extension.
    pub names: Vec<String>,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertInfo {
    /// Whether the certificate is valid for `domain`: a SAN entry equal to it or a wildcard
    /// covering it (or, without SAN, the subject CN).
    pub fn covers(&self, domain: &str) -> bool {
        let names = if self.names.is_empty() {
            &self.subject
        } else {
            &self.names
        };
        names.iter().any(|name| {
            let name = name.to_ascii_lowercase();
            match name.strip_prefix("*.") {
                Some(parent) => domain
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
                None => name == domain,
            }
        })
    }

    /// `notAfter` in RFC 3339.
    pub fn not_after_text(&self) -> String {
        chrono::DateTime::from_timestamp(self.not_after, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| self.not_after.to_string())
    }

    /// A warning when fewer than [`EXPIRY_WARNING_DAYS`] remain at `now` (Unix seconds).
    pub fn expiry_warning(&self, now: i64) -> Option<String> {
        let left = self.not_after - now;
        if left <= 0 {
            Some(format!("expired on {}", self.not_after_text()))
        } else if left < EXPIRY_WARNING_DAYS * 86_400 {
            let days = left / 86_400;
            let when = match days {
                0 => "in less than a day".to_owned(),
                1 => "in 1 day".to_owned(),
                n => format!("in {n} days"),
            };
            Some(format!("expires {when}, on {}", self.not_after_text()))
        } else {
            None
        }
    }
}

/// Reads the first certificate of the PEM file at `path`.
pub fn inspect(path: &Path) -> Result<CertInfo, TlsError> {
    let first = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| TlsError::NoCertificate {
            path: path.to_owned(),
        })?
        .map_err(|e| TlsError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let parse_error = |reason: String| TlsError::Parse {
        path: path.to_owned(),
        reason,
    };
    let (_, cert) =
        x509_parser::parse_x509_certificate(&first).map_err(|e| parse_error(e.to_string()))?;
    let subject = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    let names = cert
        .subject_alternative_name()
        .map_err(|e| parse_error(e.to_string()))?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertInfo {
        subject,
        names,
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Logs a warning when the certificate at `cert` expires within [`EXPIRY_WARNING_DAYS`], now and
/// then once a day (the file is read again each time, so a renewed certificate is seen).
pub fn watch_expiry(cert: PathBuf, shutdown: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        let mut ticks = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
        loop {
            tokio::select! {
                _ = ticks.tick() => warn_if_expiring(&cert),
                _ = shutdown.cancelled() => return,
            }
        }
    });
}

fn warn_if_expiring(cert: &Path) {
    match inspect(cert) {
        Ok(info) => {
            let now = unix_now();
            match info.expiry_warning(now) {
                Some(warning) if info.not_after <= now => {
                    tracing::error!(cert = %cert.display(), "TLS certificate {warning}");
                }
                Some(warning) => {
                    tracing::warn!(cert = %cert.display(), "TLS certificate {warning}")
                }
                None => {}
            }
        }
        Err(e) => {
            tracing::warn!(cert = %cert.display(), "cannot check the TLS certificate's expiry: {e}")
        }
    }
}

/// What `cert import` installed.
#[derive(Debug)]
pub struct Imported {
    /// The directory the pair was taken from.
    pub source: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub info: CertInfo,
    /// Set when it expires within [`EXPIRY_WARNING_DAYS`].
    pub warning: Option<String>,
}

/// Installs the certificate for `domain` from a certbot-style directory into the data
/// directory's pair. Looked for, in order: `DIR/live/<domain>/`, `DIR/<domain>/` and `DIR/`
/// itself, each holding `fullchain.pem` and `privkey.pem` (as `prosodyctl cert import` does).
/// The pair must load, match, name `domain` and not be expired.
pub fn import_certbot(dir: &Path, domain: &str, data_dir: &Path) -> Result<Imported, TlsError> {
    let candidates = [
        dir.join("live").join(domain),
        dir.join(domain),
        dir.to_owned(),
    ];
    let (cert, key) = generated_paths(data_dir);
    import_into(&candidates, domain, data_dir, &cert, &key)
}

/// Installs the first certbot-style pair of `candidates` (directories holding `fullchain.pem`
/// and `privkey.pem`) as `cert_path` and `key_path`, once it loads, names `domain` and is
/// not expired.
pub fn import_into(
    candidates: &[PathBuf],
    domain: &str,
    data_dir: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Imported, TlsError> {
    let source = candidates
        .iter()
        .find(|d| d.join("fullchain.pem").is_file() && d.join("privkey.pem").is_file())
        .ok_or_else(|| TlsError::NotFound {
            domain: domain.to_owned(),
            looked: candidates.to_vec(),
        })?;
    let (chain, key) = (source.join("fullchain.pem"), source.join("privkey.pem"));
    server_config(&chain, &key)?;
    let info = inspect(&chain)?;
    if !info.covers(domain) {
        let mut names = info.names.clone();
        if names.is_empty() {
            names.clone_from(&info.subject);
        }
        return Err(TlsError::WrongName {
            path: chain,
            domain: domain.to_owned(),
            names,
        });
    }
    if info.not_after <= unix_now() {
        return Err(TlsError::Expired {
            path: chain,
            not_after: info.not_after_text(),
        });
    }
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| TlsError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    let (cert_pem, key_pem) = (read(&chain)?, read(&key)?);
    install_pair(cert_path, &cert_pem, key_path, &key_pem)?;
    if let Some(tls_dir) = cert_path.parent() {
        match_owner(data_dir, &[tls_dir, cert_path, key_path]);
    }
    Ok(Imported {
        source: source.clone(),
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        warning: info.expiry_warning(unix_now()),
        info,
    })
}

/// Gives `paths` the owner of `dir`, so that a pair installed by root stays readable by the
/// server's user. Without the privilege to, nothing changes: the files are the caller's.
#[cfg(unix)]
fn match_owner(dir: &Path, paths: &[&Path]) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        for path in paths {
            let _ = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()));
        }
    }
}

#[cfg(not(unix))]
fn match_owner(_dir: &Path, _paths: &[&Path]) {}

/// RFC 9266 `tls-exporter` channel binding; only defined for TLS 1.3.
pub fn channel_binding(conn: &rustls::ServerConnection) -> Option<Vec<u8>> {
    if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    conn.export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_loads_and_names_the_domain() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated_paths(dir.path());
        write_self_signed("chat.example", &cert, &key).unwrap();
        server_config(&cert, &key).unwrap();
        let info = inspect(&cert).unwrap();
        assert_eq!(info.subject, ["chat.example"]);
        assert_eq!(info.names, ["chat.example", "*.chat.example"]);
        assert!(info.covers("chat.example"));
        assert!(info.covers("conference.chat.example"));
        assert!(!info.covers("example"));
        assert!(!info.covers("a.b.chat.example"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn expiry_warnings() {
        let info = CertInfo {
            subject: vec![],
            names: vec![],
            not_after: 1_000_000_000,
        };
        let day = 86_400;
        assert_eq!(info.expiry_warning(1_000_000_000 - 15 * day), None);
        assert_eq!(
            info.expiry_warning(1_000_000_000 - 13 * day - 5).as_deref(),
            Some("expires in 13 days, on 2001-09-09T01:46:40Z")
        );
        assert_eq!(
            info.expiry_warning(1_000_000_000 - 5).as_deref(),
            Some("expires in less than a day, on 2001-09-09T01:46:40Z")
        );
        assert_eq!(
            info.expiry_warning(1_000_000_000).as_deref(),
            Some("expired on 2001-09-09T01:46:40Z")
        );
    }

    /// A certbot-style pair for `names`, valid until `days` from now.
    fn certbot_pair(dir: &Path, names: &[&str], days: i64) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_after = rcgen::date_time_ymd(2000, 1, 1)
            + Duration::from_secs(u64::try_from(unix_now() - 946_684_800 + days * 86_400).unwrap());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("fullchain.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("privkey.pem"), key.serialize_pem()).unwrap();
    }

    #[test]
    fn certbot_import() {
        let certbot = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let err = import_certbot(certbot.path(), "example.org", data.path()).unwrap_err();
        assert!(
            matches!(err, TlsError::NotFound { ref looked, .. } if looked.len() == 3),
            "{err}"
        );

        certbot_pair(&certbot.path().join("live/other.org"), &["other.org"], 90);
        certbot_pair(
            &certbot.path().join("live/example.org"),
            &["example.org"],
            90,
        );
        let imported = import_certbot(certbot.path(), "example.org", data.path()).unwrap();
        assert_eq!(imported.source, certbot.path().join("live/example.org"));
        assert_eq!(imported.cert, data.path().join("tls/cert.pem"));
        assert_eq!(inspect(&imported.cert).unwrap().names, ["example.org"]);
        server_config(&imported.cert, &imported.key).unwrap();

        let err = import_certbot(&certbot.path().join("live"), "other.org", data.path());
        assert!(err.is_ok(), "DIR/<domain>/ is accepted too");
        let err = import_certbot(
            &certbot.path().join("live/other.org"),
            "example.org",
            data.path(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("is for other.org, not for example.org"),
            "{err}"
        );

        certbot_pair(&certbot.path().join("old.org"), &["old.org"], -1);
        let err = import_certbot(certbot.path(), "old.org", data.path()).unwrap_err();
        assert!(matches!(err, TlsError::Expired { .. }), "{err}");

        // A key that is not the certificate's is refused before anything is installed.
        let mismatched = certbot.path().join("mixed.org");
        certbot_pair(&mismatched, &["mixed.org"], 90);
        std::fs::copy(
            certbot.path().join("live/other.org/privkey.pem"),
            mismatched.join("privkey.pem"),
        )
        .unwrap();
        let err = import_certbot(certbot.path(), "mixed.org", data.path()).unwrap_err();
        assert!(matches!(err, TlsError::Rustls(_)), "{err}");
        assert_eq!(inspect(&imported.cert).unwrap().names, ["other.org"]);
    }

    #[test]
    fn missing_file_is_reported() {
        let err = server_config(
            Path::new("/nonexistent/c.pem"),
            Path::new("/nonexistent/k.pem"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"));
    }
}
