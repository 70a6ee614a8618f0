//! HTTPS on the HTTP listeners: the certificate chosen by SNI among the served domains, HTTP/2
//! or HTTP/1.1 by ALPN, and a TLS handshake bounded in time like request headers are.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::{Imported, TlsError, import_into};

/// What ALPN settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Where the pair of a domain other than the server's own lives: `DATA_DIR/tls/<domain>/`.
pub fn domain_paths(data_dir: &Path, domain: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = data_dir.join("tls").join(domain);
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Installs the certbot-style pair of a hosted `domain` found in `DIR/live/<domain>/` or
/// `DIR/<domain>/` as its HTTPS pair ([`domain_paths`]); `None` when neither exists.
pub fn import_hosted(
    dir: &Path,
    domain: &str,
    data_dir: &Path,
) -> Result<Option<Imported>, TlsError> {
    let candidates = [dir.join("live").join(domain), dir.join(domain)];
    if !candidates.iter().any(|c| c.is_dir()) {
        return Ok(None);
    }
    let (cert, key) = domain_paths(data_dir, domain);
    import_into(&candidates, domain, data_dir, &cert, &key).map(Some)
}

/// Certificates by server name; clients that send no name, or one without a certificate of
/// its own, get the server domain's.
#[derive(Debug)]
struct BySni {
    named: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| self.named.get(&name.to_ascii_lowercase()))
            .unwrap_or(&self.default);
        Some(chosen.clone())
    }
}

fn certified(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
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
    let signing = provider.key_provider.load_private_key(key_der)?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match()?;
    Ok(Arc::new(certified))
}

/// The HTTPS server configuration: the server domain's pair (`cert`, `key`) by default, and the
/// pair in `DATA_DIR/tls/<domain>/` for each of `domains` that has one.
pub fn server_config(
    cert: &Path,
    key: &Path,
    data_dir: &Path,
    domains: &[String],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = certified(cert, key, &provider)?;
    let mut named = HashMap::new();
    for domain in domains {
        let (cert, key) = domain_paths(data_dir, domain);
        if cert.is_file() && key.is_file() {
            named.insert(
                domain.to_ascii_lowercase(),
                certified(&cert, &key, &provider)?,
            );
            tracing::info!(%domain, cert = %cert.display(), "HTTPS certificate for {domain}");
        }
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { named, default }));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Completes TLS handshakes for an HTTP listener.
#[derive(Clone)]
pub struct HttpsAcceptor {
    acceptor: TlsAcceptor,
    /// The whole handshake must be done within this (the header-read timeout).
    handshake: Duration,
}

impl fmt::Debug for HttpsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsAcceptor")
            .field("handshake", &self.handshake)
            .finish_non_exhaustive()
    }
}

impl HttpsAcceptor {
    pub fn new(config: Arc<ServerConfig>, handshake: Duration) -> HttpsAcceptor {
        HttpsAcceptor {
            acceptor: TlsAcceptor::from(config),
            handshake,
        }
    }

    /// The TLS stream and the protocol agreed on, or `None` when the client failed or took too
    /// long (logged at debug: scanners do this all day).
    pub async fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TlsStream<TcpStream>, Protocol)> {
        match tokio::time::timeout(self.handshake, self.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let protocol = match stream.get_ref().1.alpn_protocol() {
                    Some(ALPN_H2) => Protocol::Http2,
                    _ => Protocol::Http1,
                };
                Some((stream, protocol))
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "HTTPS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "HTTPS handshake timed out");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_with_its_own_pair_is_served_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = crate::tls::generated_paths(dir.path());
        crate::tls::write_self_signed("localhost", &cert, &key).unwrap();
        let (c, k) = domain_paths(dir.path(), "rest.example");
        crate::tls::write_self_signed("rest.example", &c, &k).unwrap();
        let domains = ["rest.example".to_owned(), "absent.example".to_owned()];
        let config = server_config(&cert, &key, dir.path(), &domains).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        // A key that does not match its certificate is refused.
        std::fs::copy(&key, &k).unwrap();
        let refused = server_config(&cert, &key, dir.path(), &domains).unwrap_err();
        assert!(matches!(refused, TlsError::Rustls(_)), "{refused}");
    }
}
