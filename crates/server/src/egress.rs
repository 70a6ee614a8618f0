//! Where the server may connect out (webhook callbacks): only globally routable addresses,
//! checked on a URL's host when configured and on every address DNS gives before connecting.
//!
//! A callback URL is set by an administrator or, through the admin API, by a caller with
//! admin rights; without this rule it could make the server talk to its own loopback services,
//! the cloud metadata endpoint (169.254.169.254) or the private network behind it (SSRF).
//! `webhook.allow_private_targets = true` lifts the rule for tests and local development.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a globally routable unicast address: not loopback, unspecified, private,
/// shared (CGNAT), link-local, unique-local, multicast, documentation, benchmarking, reserved
/// or a 6to4/NAT64/IPv4-mapped form of one of them.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let non_global = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224; // multicast, reserved and broadcast
    !non_global
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let bits = u128::from(ip);
    let within = |prefix: u128, len: u32| bits >> (128 - len) == prefix >> (128 - len);
    // Addresses that embed an IPv4 one are as public as it is.
    if within(0x0064_ff9b << 96, 96) {
        return is_public_v4(Ipv4Addr::from(bits as u32));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    let non_global = bits >> 32 == 0 // unspecified, loopback, IPv4-compatible (deprecated)
        || within(0x0064_ff9b_0001 << 80, 48) // local-use NAT64 (RFC 8215)
        || within(0x0100 << 112, 64) // discard-only (RFC 6666)
        || within(0x2001 << 112, 23) // IETF protocol assignments, Teredo, ORCHID
        || within(0x2001_0db8 << 96, 32) // documentation
        || within(0x3fff << 112, 20) // documentation (RFC 9637)
        || within(0xfc00 << 112, 7) // unique local
        || within(0xfe80 << 112, 10) // link-local
        || within(0xfec0 << 112, 10) // site-local (deprecated)
        || segments[0] >> 8 == 0xff; // multicast
    !non_global
}

/// Why a callback URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "callback host {0} is not a public address (set webhook.allow_private_targets = true to allow it)"
    )]
    Private(String),
    #[error("callback host {0} resolves to no public address")]
    NoPublicAddress(String),
}

/// The rule a URL's host is held to before any DNS lookup: an IP literal must be public, and
/// `localhost` names (RFC 6761) are loopback by definition. Other names are checked once
/// resolved, by [`PublicResolver`].
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let private = match literal.parse::<IpAddr>() {
        Ok(ip) => !is_public(ip),
        Err(_) => name == "localhost" || name.ends_with(".localhost"),
    };
    if private {
        return Err(TargetError::Private(host.to_owned()));
    }
    Ok(())
}

/// The system resolver, keeping only public addresses: a name that resolves to a private one
/// (or that an attacker rebinds to one) gets no connection at all.
#[derive(Debug, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(TargetError::NoPublicAddress(host)) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_global_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn global_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_with_private_literals_or_localhost_names_are_refused() {
        let check = |url: &str, allow| check_url(&Url::parse(url).unwrap(), allow);
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "https://169.254.169.254/latest/meta-data/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://localhost:8080/",
            "http://LOCALHOST./x",
            "http://metadata.localhost/",
            "http://[::ffff:192.168.0.1]/",
        ] {
            assert!(
                matches!(check(url, false), Err(TargetError::Private(_))),
                "{url}"
            );
            assert_eq!(check(url, true), Ok(()), "{url}");
        }
        for url in [
            "https://example.com/hook",
            "http://8.8.8.8/",
            "http://[2606:4700::1]/",
        ] {
            assert_eq!(check(url, false), Ok(()), "{url}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_get_no_address() {
        let resolver = PublicResolver;
        let refused = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err());
        let literal = resolver.resolve("127.0.0.1".parse().unwrap()).await;
        assert!(literal.is_err());
    }
}
