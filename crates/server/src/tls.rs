//! TLS material: the configured PEM certificate and key, or a self-signed pair generated once in
//! the data directory, turned into a rustls server configuration (ring provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

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
}

/// Where the generated self-signed pair lives.
pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Writes a self-signed certificate for `domain` (and its subdomains) to `cert`/`key`.
pub fn write_self_signed(domain: &str, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let names = vec![domain.to_owned(), format!("*.{domain}")];
    let certified = rcgen::generate_simple_self_signed(names)?;
    for (path, pem) in [
        (cert, certified.cert.pem()),
        (key, certified.signing_key.serialize_pem()),
    ] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| TlsError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(path, pem).map_err(|source| TlsError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    restrict_key_permissions(key);
    Ok(())
}

#[cfg(unix)]
fn restrict_key_permissions(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_key_permissions(_key: &Path) {}

/// The certificate and key paths in force: configured ones, or generated ones (created on
/// first use).
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

pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read_err(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read_err(key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(Arc::new(config))
}

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
    fn generated_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = generated_paths(dir.path());
        write_self_signed("localhost", &cert, &key).unwrap();
        server_config(&cert, &key).unwrap();
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
