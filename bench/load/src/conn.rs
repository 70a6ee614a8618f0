//! One XMPP client connection over raw TCP (RFC 6120), TLS from the first byte (XEP-0368) or
//! WebSocket (RFC 7395), loopback only: stream negotiation, SASL (SCRAM-SHA-1 with a cached
//! salted password, or PLAIN), resource binding, then a reader and a writer half.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::xml::{Event, Scanner, child_text, has_attr};

/// Where and how to connect: `tcp://127.0.0.1:5222`, `tls://127.0.0.1:5223` (direct TLS) or
/// `ws://127.0.0.1:5280/xmpp-websocket`.
#[derive(Clone, Debug)]
pub struct Target {
    pub ws_path: Option<String>,
    pub tls: bool,
    pub addr: SocketAddr,
    pub domain: String,
}

impl Target {
    pub fn parse(url: &str, domain: &str) -> Result<Target> {
        let (ws, tls, rest) = if let Some(r) = url.strip_prefix("tcp://") {
            (false, false, r)
        } else if let Some(r) = url.strip_prefix("tls://") {
            (false, true, r)
        } else if let Some(r) = url.strip_prefix("ws://") {
            (true, false, r)
        } else {
            bail!(
                "server must be tcp://host:port, tls://host:port or ws://host:port/path, got {url}"
            );
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr: SocketAddr = hostport.parse().context("server address")?;
        if !addr.ip().is_loopback() {
            bail!("refusing a non-loopback target {addr}: benchmarks run on loopback only");
        }
        Ok(Target {
            ws_path: ws.then(|| path.to_string()),
            tls,
            addr,
            domain: domain.to_string(),
        })
    }

    pub fn is_ws(&self) -> bool {
        self.ws_path.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mech {
    /// SCRAM-SHA-1 when offered (the salted password is computed once per salt, as real
    /// clients cache it), else PLAIN.
    Scram,
    Plain,
}

/// Salted passwords by (password, salt, iterations): PBKDF2 once per account, not per login.
#[derive(Default, Clone)]
pub struct ScramCache(Arc<Mutex<HashMap<ScramKey, [u8; 20]>>>);

/// (password, salt, iterations)
type ScramKey = (String, Vec<u8>, u32);

impl ScramCache {
    /// Loads a cache saved by [`ScramCache::save`]; a missing or unreadable file is empty.
    pub fn load(path: &std::path::Path) -> ScramCache {
        let cache = ScramCache::default();
        let Ok(text) = std::fs::read_to_string(path) else {
            return cache;
        };
        let mut map = cache.0.lock().expect("cache lock");
        for line in text.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            if let [pw, salt, iters, salted] = parts[..]
                && let (Ok(pw), Ok(salt), Ok(iters), Ok(salted)) = (
                    B64.decode(pw),
                    B64.decode(salt),
                    iters.parse::<u32>(),
                    B64.decode(salted),
                )
                && let (Ok(pw), Ok(salted)) = (String::from_utf8(pw), <[u8; 20]>::try_from(salted))
            {
                map.insert((pw, salt, iters), salted);
            }
        }
        drop(map);
        cache
    }

    pub fn save(&self, path: &std::path::Path) -> io::Result<()> {
        let map = self.0.lock().expect("cache lock");
        let mut out = String::new();
        for ((pw, salt, iters), salted) in map.iter() {
            out.push_str(&format!(
                "{} {} {iters} {}\n",
                B64.encode(pw),
                B64.encode(salt),
                B64.encode(salted)
            ));
        }
        std::fs::write(path, out)
    }
}

pub struct Credentials {
    pub user: String,
    pub password: String,
    pub resource: String,
    pub mech: Mech,
}

/// The read half of a byte stream: plain TCP or TLS over it.
type ByteReader = Box<dyn AsyncRead + Send + Unpin>;
type ByteWriter = Box<dyn AsyncWrite + Send + Unpin>;

pub enum Reader {
    Tcp(ByteReader, Scanner, Vec<u8>),
    Ws(SplitStream<WebSocketStream<TcpStream>>),
}

pub enum Writer {
    Tcp(ByteWriter),
    Ws(SplitSink<WebSocketStream<TcpStream>, WsMessage>),
}

pub struct Conn {
    pub reader: Reader,
    pub writer: Writer,
    pub jid: String,
}

const MAX_BUFFERED: usize = 4 << 20;

impl Reader {
    /// The next stream event; `Ok(None)` when the peer closed the connection.
    pub async fn next(&mut self) -> io::Result<Option<Event>> {
        match self {
            Reader::Tcp(rd, scanner, buf) => loop {
                if let Some(ev) = scanner.next_event() {
                    return Ok(Some(ev));
                }
                if scanner.buffered() > MAX_BUFFERED {
                    return Err(io::Error::other("element larger than 4 MiB"));
                }
                if buf.is_empty() {
                    buf.resize(16 * 1024, 0);
                }
                let n = rd.read(buf).await?;
                if n == 0 {
                    return Ok(None);
                }
                scanner.feed(&buf[..n]);
            },
            Reader::Ws(rd) => loop {
                let Some(msg) = rd.next().await else {
                    return Ok(None);
                };
                match msg.map_err(io::Error::other)? {
                    WsMessage::Text(t) => {
                        let t = t.as_str().trim();
                        if t.starts_with("<open") {
                            return Ok(Some(Event::Open(t.to_string())));
                        }
                        if t.starts_with("<close") {
                            return Ok(Some(Event::Close));
                        }
                        if t.is_empty() {
                            continue;
                        }
                        return Ok(Some(Event::Elem(t.to_string())));
                    }
                    WsMessage::Close(_) => return Ok(None),
                    _ => continue,
                }
            },
        }
    }

    /// The next element, skipping nothing; an error if the stream opened, closed or ended.
    pub async fn elem(&mut self) -> Result<String> {
        match self.next().await? {
            Some(Event::Elem(e)) => Ok(e),
            Some(Event::Close) | None => Err(anyhow!("stream closed by the server")),
            Some(Event::Open(o)) => Err(anyhow!("unexpected stream header {o}")),
        }
    }

    async fn open(&mut self) -> Result<()> {
        match self.next().await? {
            Some(Event::Open(_)) => Ok(()),
            Some(Event::Elem(e)) => Err(anyhow!("expected a stream header, got {e}")),
            _ => Err(anyhow!("stream closed before its header")),
        }
    }
}

impl Writer {
    pub async fn send(&mut self, data: &str) -> io::Result<()> {
        match self {
            Writer::Tcp(w) => {
                w.write_all(data.as_bytes()).await?;
                w.flush().await
            }
            Writer::Ws(w) => w
                .send(WsMessage::Text(data.to_string().into()))
                .await
                .map_err(io::Error::other),
        }
    }

    /// Several stanzas in one write (TCP) or one flush (WebSocket frames).
    pub async fn send_batch(&mut self, items: &[String]) -> io::Result<()> {
        match self {
            Writer::Tcp(w) => {
                w.write_all(items.concat().as_bytes()).await?;
                w.flush().await
            }
            Writer::Ws(w) => {
                for it in items {
                    w.feed(WsMessage::Text(it.clone().into()))
                        .await
                        .map_err(io::Error::other)?;
                }
                w.flush().await.map_err(io::Error::other)
            }
        }
    }
}

fn stream_open(target: &Target) -> String {
    if target.is_ws() {
        format!(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{}' version='1.0'/>",
            target.domain
        )
    } else {
        format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
            target.domain
        )
    }
}

pub fn stream_close(target: &Target) -> &'static str {
    if target.is_ws() {
        "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
    } else {
        "</stream:stream>"
    }
}

async fn tcp_connect(target: &Target, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects, authenticates and binds `creds.resource`; the returned halves are ready for
/// stanzas (no presence sent yet).
pub async fn login(
    target: &Target,
    source: Option<IpAddr>,
    creds: &Credentials,
    cache: &ScramCache,
) -> Result<Conn> {
    let tcp = tcp_connect(target, source).await.context("connect")?;
    let (mut reader, mut writer) = match &target.ws_path {
        None if target.tls => {
            let tls = crate::tls::connect(tcp).await.context("TLS handshake")?;
            let (rd, wr) = tokio::io::split(tls);
            (
                Reader::Tcp(Box::new(rd), Scanner::default(), Vec::new()),
                Writer::Tcp(Box::new(wr)),
            )
        }
        None => {
            let (rd, wr) = tcp.into_split();
            (
                Reader::Tcp(Box::new(rd), Scanner::default(), Vec::new()),
                Writer::Tcp(Box::new(wr)),
            )
        }
        Some(path) => {
            let url = format!("ws://{}{}", target.addr, path);
            let mut req = url.into_client_request()?;
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
            let (ws, _resp) = tokio_tungstenite::client_async(req, tcp)
                .await
                .context("websocket upgrade")?;
            let (wr, rd) = ws.split();
            (Reader::Ws(rd), Writer::Ws(wr))
        }
    };
    writer.send(&stream_open(target)).await?;
    reader.open().await?;
    let features = reader.elem().await?;
    let scram = creds.mech == Mech::Scram && features.contains(">SCRAM-SHA-1<");
    if scram {
        scram_sha1(&mut reader, &mut writer, creds, cache).await?;
    } else {
        if !features.contains(">PLAIN<") {
            bail!("server offers neither SCRAM-SHA-1 nor PLAIN: {features}");
        }
        let payload = B64.encode(format!("\0{}\0{}", creds.user, creds.password));
        writer
            .send(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{payload}</auth>"
            ))
            .await?;
        let answer = reader.elem().await?;
        if !answer.starts_with("<success") {
            bail!("PLAIN refused: {answer}");
        }
    }
    if let Reader::Tcp(_, scanner, _) = &mut reader {
        *scanner = Scanner::default();
    }
    writer.send(&stream_open(target)).await?;
    reader.open().await?;
    let _features = reader.elem().await?;
    writer
        .send(&format!(
            "<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>{}</resource></bind></iq>",
            creds.resource
        ))
        .await?;
    loop {
        let el = reader.elem().await?;
        if el.starts_with("<iq") && has_attr(&el, "id", "bind1") {
            if !has_attr(&el, "type", "result") {
                bail!("bind failed: {el}");
            }
            let jid = child_text(&el, "jid").unwrap_or_default().to_string();
            return Ok(Conn {
                reader,
                writer,
                jid,
            });
        }
    }
}

type HmacSha1 = Hmac<Sha1>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut m = HmacSha1::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    B64.encode(Sha1::digest(format!("{t}-{n}-{}", std::process::id())))
}

async fn scram_sha1(
    reader: &mut Reader,
    writer: &mut Writer,
    creds: &Credentials,
    cache: &ScramCache,
) -> Result<()> {
    let cnonce = nonce();
    let first_bare = format!(
        "n={},r={cnonce}",
        creds.user.replace('=', "=3D").replace(',', "=2C")
    );
    let first = B64.encode(format!("n,,{first_bare}"));
    writer
        .send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{first}</auth>"
        ))
        .await?;
    let challenge = reader.elem().await?;
    if !challenge.starts_with("<challenge") {
        bail!("SCRAM refused: {challenge}");
    }
    let server_first = String::from_utf8(
        B64.decode(
            child_text(&challenge, "challenge")
                .unwrap_or_default()
                .trim(),
        )?,
    )?;
    let mut nonce = None;
    let mut salt = None;
    let mut iters = None;
    for part in server_first.split(',') {
        if let Some(v) = part.strip_prefix("r=") {
            nonce = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("s=") {
            salt = Some(B64.decode(v)?);
        } else if let Some(v) = part.strip_prefix("i=") {
            iters = Some(v.parse::<u32>()?);
        }
    }
    let (Some(nonce), Some(salt), Some(iters)) = (nonce, salt, iters) else {
        bail!("bad server-first-message {server_first}");
    };
    if !nonce.starts_with(&cnonce) {
        bail!("server nonce does not extend ours");
    }
    let key = (creds.password.clone(), salt.clone(), iters);
    let cached = cache.0.lock().expect("cache lock").get(&key).copied();
    let salted = match cached {
        Some(s) => s,
        None => {
            let mut out = [0u8; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(creds.password.as_bytes(), &salt, iters, &mut out);
            cache.0.lock().expect("cache lock").insert(key, out);
            out
        }
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 20] = Sha1::digest(client_key).into();
    let final_bare = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{final_bare}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    let client_final = B64.encode(format!("{final_bare},p={}", B64.encode(proof)));
    writer
        .send(&format!(
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{client_final}</response>"
        ))
        .await?;
    let answer = reader.elem().await?;
    if !answer.starts_with("<success") {
        bail!("SCRAM failed: {answer}");
    }
    Ok(())
}

/// Source addresses `127.0.0.A`–`127.0.0.B` from `"A-B"` (or one address), for more than
/// one ephemeral port range's worth of connections.
pub fn sources(spec: &str) -> Result<Vec<IpAddr>> {
    if spec.is_empty() {
        return Ok(vec![]);
    }
    if let Some((a, b)) = spec.split_once('-') {
        let (a, b): (u8, u8) = (a.parse()?, b.parse()?);
        return Ok((a..=b)
            .map(|i| IpAddr::from([127, 0, 0, i]))
            .collect::<Vec<_>>());
    }
    let ip: IpAddr = spec.parse()?;
    if !ip.is_loopback() {
        bail!("source addresses must be loopback");
    }
    Ok(vec![ip])
}

pub fn timeout_err(what: &str, d: Duration) -> anyhow::Error {
    anyhow!("{what} took longer than {d:?}")
}
