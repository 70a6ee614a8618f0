//! HTTPS on the HTTP listeners: the certificate chosen by SNI among the served domains, HTTP/2
//! or HTTP/1.1 by ALPN, and a TLS handshake bounded in time like request headers are.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::tls::{Imported, ServedCert, TlsError, certified_key, import_into};

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

/// Certificates by server name: hosted domains with a pair of their own get it; clients that
/// send no name, or another one, get the server domain's (the reloadable [`ServedCert`] that
/// c2s presents too). A reload replaces the hosted pairs with [`HostedCerts::take`].
#[derive(Debug)]
pub struct HostedCerts {
    named: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    default: Arc<ServedCert>,
}

/// The hosted domains' pairs, read but not yet served.
pub struct Named(HashMap<String, Arc<CertifiedKey>>);

impl HostedCerts {
    pub fn new(default: Arc<ServedCert>, named: Named) -> HostedCerts {
        HostedCerts {
            named: ArcSwap::from_pointee(named.0),
            default,
        }
    }

    /// Reads the pair in `DATA_DIR/tls/<domain>/` of each of `domains` that has one.
    pub fn load(data_dir: &Path, domains: &[String]) -> Result<Named, TlsError> {
        let mut named = HashMap::new();
        for domain in domains {
            let (cert, key) = domain_paths(data_dir, domain);
            if cert.is_file() && key.is_file() {
                named.insert(
                    domain.to_ascii_lowercase(),
                    Arc::new(certified_key(&cert, &key)?),
                );
                tracing::info!(%domain, cert = %cert.display(), "HTTPS certificate for {domain}");
            }
        }
        Ok(Named(named))
    }

    /// Serves `named` from the next handshake on.
    pub fn take(&self, named: Named) {
        self.named.store(Arc::new(named.0));
    }
}

impl ResolvesServerCert for HostedCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let own = hello
            .server_name()
            .and_then(|name| self.named.load().get(&name.to_ascii_lowercase()).cloned());
        own.or_else(|| self.default.resolve(hello))
    }
}

/// The HTTPS server configuration: certificates by SNI, HTTP/2 and HTTP/1.1 by ALPN.
pub fn server_config(certs: Arc<HostedCerts>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Completes TLS handshakes for an HTTP listener.
#[derive(Clone)]
pub struct HttpsAcceptor(TlsAcceptor);

impl fmt::Debug for HttpsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsAcceptor").finish_non_exhaustive()
    }
}

impl HttpsAcceptor {
    pub fn new(config: Arc<ServerConfig>) -> HttpsAcceptor {
        HttpsAcceptor(TlsAcceptor::from(config))
    }

    /// The TLS stream and the protocol agreed on, or `None` when the client failed or took
    /// longer than `handshake` (logged at debug: scanners do this all day).
    pub async fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        handshake: Duration,
    ) -> Option<(TlsStream<TcpStream>, Protocol)> {
        match tokio::time::timeout(handshake, self.0.accept(tcp)).await {
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
    fn hosted_pairs_load_and_a_mismatched_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = crate::tls::generated_paths(dir.path());
        crate::tls::write_self_signed("localhost", &cert, &key).unwrap();
        let (c, k) = domain_paths(dir.path(), "rest.example");
        crate::tls::write_self_signed("rest.example", &c, &k).unwrap();
        let domains = ["rest.example".to_owned(), "absent.example".to_owned()];
        let named = HostedCerts::load(dir.path(), &domains).unwrap();
        assert_eq!(named.0.keys().collect::<Vec<_>>(), ["rest.example"]);
        let default = Arc::new(ServedCert::load(&cert, &key).unwrap());
        let config = server_config(Arc::new(HostedCerts::new(default, named))).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        std::fs::copy(&key, &k).unwrap();
        let refused = HostedCerts::load(dir.path(), &domains).err().unwrap();
        assert!(matches!(refused, TlsError::Rustls(_)), "{refused}");
    }
}
