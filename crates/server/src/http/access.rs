//! Access rules for REST credentials, with ejabberd mod_rest's option names: `allowed_ips`,
//! `allowed_destinations`, `allowed_stanza_types`; and the client address behind trusted proxies.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use jid::Jid;
use switchboard_xmpp::stanza::StanzaKind;

use crate::config::AccessConfig;

/// A rule that refused a request, named as in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied(pub &'static str);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Destination {
    Domain(String),
    Jid(Jid),
}

/// Compiled [`AccessConfig`]; empty lists allow everything.
#[derive(Clone, Debug, Default)]
pub struct AccessRules {
    ips: Vec<IpNet>,
    destinations: Vec<Destination>,
    kinds: Vec<StanzaKind>,
}

/// Parses `10.0.0.0/8` or a single address (as a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is not an IP address or CIDR block"))
}

impl AccessRules {
    pub fn compile(config: &AccessConfig) -> Result<AccessRules, String> {
        let ips = config
            .allowed_ips
            .iter()
            .map(|s| parse_net(s).map_err(|e| format!("allowed_ips: {e}")))
            .collect::<Result<_, _>>()?;
        let destinations = config
            .allowed_destinations
            .iter()
            .map(|d| {
                let jid =
                    Jid::new(d).map_err(|_| format!("allowed_destinations: '{d}' is not a JID"))?;
                Ok(match (jid.node(), jid.resource()) {
                    (None, None) => Destination::Domain(jid.domain().to_string()),
                    _ => Destination::Jid(jid),
                })
            })
            .collect::<Result<_, String>>()?;
        let kinds = config
            .allowed_stanza_types
            .iter()
            .map(|k| {
                StanzaKind::from_name(k).ok_or_else(|| {
                    format!("allowed_stanza_types: '{k}' is not message, presence or iq")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AccessRules {
            ips,
            destinations,
            kinds,
        })
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Denied> {
        if self.ips.is_empty() || self.ips.iter().any(|net| net.contains(&ip)) {
            Ok(())
        } else {
            Err(Denied("allowed_ips"))
        }
    }

    /// Checks a stanza's kind and destination; a stanza without `to` goes to `sender`'s account.
    pub fn check_stanza(
        &self,
        kind: StanzaKind,
        to: Option<&Jid>,
        sender: &Jid,
    ) -> Result<(), Denied> {
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Err(Denied("allowed_stanza_types"));
        }
        if self.destinations.is_empty() {
            return Ok(());
        }
        let to = to.cloned().unwrap_or_else(|| Jid::from(sender.to_bare()));
        let allowed = self.destinations.iter().any(|d| match d {
            Destination::Domain(domain) => to.domain().as_str() == domain,
            // A bare JID allows all of its resources; a full JID only itself.
            Destination::Jid(jid) if jid.resource().is_none() => to.to_bare() == jid.to_bare(),
            Destination::Jid(jid) => to == *jid,
        });
        if allowed {
            Ok(())
        } else {
            Err(Denied("allowed_destinations"))
        }
    }
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the nearest address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    chain
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ips: &[&str], dests: &[&str], kinds: &[&str]) -> AccessRules {
        AccessRules::compile(&AccessConfig {
            allowed_ips: ips.iter().map(|s| s.to_string()).collect(),
            allowed_destinations: dests.iter().map(|s| s.to_string()).collect(),
            allowed_stanza_types: kinds.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn empty_rules_allow_everything() {
        let r = AccessRules::default();
        assert!(r.check_ip("203.0.113.9".parse().unwrap()).is_ok());
        assert!(
            r.check_stanza(StanzaKind::Iq, Some(&jid("x@y")), &jid("a@b"))
                .is_ok()
        );
    }

    #[test]
    fn ips_and_cidrs() {
        let r = rules(&["127.0.0.1", "10.0.0.0/8", "::1"], &[], &[]);
        assert!(r.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(r.check_ip("10.1.2.3".parse().unwrap()).is_ok());
        assert!(r.check_ip("::1".parse().unwrap()).is_ok());
        assert_eq!(
            r.check_ip("127.0.0.2".parse().unwrap()),
            Err(Denied("allowed_ips"))
        );
    }

    #[test]
    fn destinations_by_domain_bare_and_full() {
        let r = rules(&[], &["localhost", "bob@other", "carol@other/desk"], &[]);
        let me = jid("alice@localhost");
        assert!(
            r.check_stanza(StanzaKind::Message, Some(&jid("x@localhost/r")), &me)
                .is_ok()
        );
        assert!(
            r.check_stanza(StanzaKind::Message, Some(&jid("bob@other/any")), &me)
                .is_ok()
        );
        assert!(
            r.check_stanza(StanzaKind::Message, Some(&jid("carol@other/desk")), &me)
                .is_ok()
        );
        assert!(
            r.check_stanza(StanzaKind::Message, Some(&jid("carol@other/phone")), &me)
                .is_err()
        );
        assert!(r.check_stanza(StanzaKind::Message, None, &me).is_ok());
        assert_eq!(
            r.check_stanza(StanzaKind::Message, Some(&jid("eve@evil")), &me),
            Err(Denied("allowed_destinations"))
        );
    }

    #[test]
    fn stanza_types() {
        let r = rules(&[], &[], &["message"]);
        let me = jid("a@b");
        assert!(r.check_stanza(StanzaKind::Message, None, &me).is_ok());
        assert_eq!(
            r.check_stanza(StanzaKind::Iq, None, &me),
            Err(Denied("allowed_stanza_types"))
        );
    }

    #[test]
    fn bad_rules_are_reported() {
        for (ips, dests, kinds) in [
            (vec!["300.1.1.1"], vec![], vec![]),
            (vec![], vec!["@@"], vec![]),
            (vec![], vec![], vec!["pizza"]),
        ] {
            let cfg = AccessConfig {
                allowed_ips: ips.into_iter().map(String::from).collect(),
                allowed_destinations: dests.into_iter().map(String::from).collect(),
                allowed_stanza_types: kinds.into_iter().map(String::from).collect(),
            };
            assert!(AccessRules::compile(&cfg).is_err());
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec![
            parse_net("127.0.0.1").unwrap(),
            parse_net("10.0.0.0/8").unwrap(),
        ];
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.7, 10.0.0.5".parse().unwrap());
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
