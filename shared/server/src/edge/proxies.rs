//! Who the client is: the TCP peer, or — when the peer is a trusted proxy — the right-most
//! address of `X-Forwarded-For` that is not itself a trusted proxy.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`TICA_TRUSTED_PROXIES`): addresses and
/// CIDR prefixes, IPv4 or IPv6. Empty by default: nobody is trusted and the client is always
/// the TCP peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts nobody.
    pub fn none() -> TrustedProxies {
        TrustedProxies(Vec::new())
    }

    /// Whether nobody is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 addresses count as their IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind a request that reached us from `peer` with `headers`.
    ///
    /// An untrusted peer is the client whatever its headers say. From a trusted peer, the
    /// `X-Forwarded-For` addresses (every such header, in order, as one list) are walked from the
    /// right: each trusted one is skipped, and the first that is not is the client. A malformed
    /// entry (not an address, or a header that is not text) stops the walk, and the last trusted
    /// hop reached is the client — never anything left of the bad entry, which anyone could have
    /// written. When every entry is trusted, the left-most one is the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        // Right to left, header by header, without collecting the list: a long header costs
        // only as many steps as there are trusted hops at its end.
        for value in headers.get_all("x-forwarded-for").iter().rev() {
            let Ok(text) = value.to_str() else {
                return client;
            };
            for entry in text.rsplit(',') {
                let Some(hop) = parse_hop(entry) else {
                    return client;
                };
                client = hop;
                if !self.contains(hop) {
                    return client;
                }
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`) or in brackets, as some proxies write them.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or CIDR prefixes: `10.0.0.0/8,127.0.0.1,fd00::/8`; empty
    /// trusts nobody.
    fn from_str(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => canonical_net(net),
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip.to_canonical()),
                    Err(_) => {
                        return Err(format!(
                            "{entry:?} is neither an IP address nor a CIDR prefix (e.g. 10.0.0.0/8)"
                        ));
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }
}

/// `::ffff:10.0.0.0/104` is `10.0.0.0/8`: peers are compared in their canonical form.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4)
            }
            _ => net,
        },
        IpNet::V4(_) => net,
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(text: &str) -> TrustedProxies {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
        let trusted = proxies("10.0.0.0/8");
        let headers = forwarded(&["1.2.3.4, 10.0.0.7"]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &headers),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::none().client(ip("10.0.0.7"), &headers),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn from_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies("10.0.0.0/8,192.0.2.1");
        // The visitor wrote "6.6.6.6" themselves; 198.51.100.7 is who reached our proxies.
        let headers = forwarded(&["6.6.6.6, 198.51.100.7, 192.0.2.1, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers), ip("198.51.100.7"));
        // Several headers are one list, in order.
        let headers = forwarded(&["6.6.6.6", "198.51.100.7", "10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers), ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_without_forwarded_for_is_the_client() {
        let trusted = proxies("10.0.0.0/8");
        assert_eq!(
            trusted.client(ip("10.0.0.5"), &HeaderMap::new()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn a_malformed_entry_stops_the_walk_at_the_last_trusted_hop() {
        let trusted = proxies("10.0.0.0/8");
        let headers = forwarded(&["198.51.100.7, unknown, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers), ip("10.1.2.3"));
        let headers = forwarded(&["198.51.100.7, "]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers), ip("10.0.0.5"));
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_is_the_client() {
        let trusted = proxies("10.0.0.0/8");
        let headers = forwarded(&["10.9.9.9, 10.1.2.3"]);
        assert_eq!(trusted.client(ip("10.0.0.5"), &headers), ip("10.9.9.9"));
    }

    #[test]
    fn ipv6_prefixes_ports_brackets_and_mapped_addresses_are_understood() {
        let trusted = proxies("fd00::/8, 127.0.0.1");
        let headers = forwarded(&["2001:db8::1, [2001:db8::2]:443, fd12::3"]);
        assert_eq!(trusted.client(ip("fd00::1"), &headers), ip("2001:db8::2"));
        let headers = forwarded(&["198.51.100.7:5678"]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &headers),
            ip("198.51.100.7")
        );
        assert!(trusted.contains(ip("::ffff:127.0.0.1")));
        assert!(!trusted.contains(ip("fe80::1")));
        let mapped = proxies("::ffff:10.0.0.0/104");
        assert!(mapped.contains(ip("10.200.0.1")));
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn cidr_prefixes_cover_exactly_their_range() {
        let trusted = proxies("10.42.0.0/16, 2001:db8:aa::/48");
        assert!(trusted.contains(ip("10.42.255.255")));
        assert!(!trusted.contains(ip("10.43.0.0")));
        assert!(trusted.contains(ip("2001:db8:aa:ffff::1")));
        assert!(!trusted.contains(ip("2001:db8:ab::1")));
        // Host bits are dropped, not a reason to refuse.
        assert_eq!(proxies("10.42.7.1/16").to_string(), "10.42.0.0/16");
    }

    #[test]
    fn a_bad_entry_is_refused_naming_it_and_empty_trusts_nobody() {
        let error = "10.0.0.0/8, ingress".parse::<TrustedProxies>().unwrap_err();
        assert!(error.contains("\"ingress\""), "{error}");
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!(proxies("").is_empty());
        assert!(proxies(" , ").is_empty());
    }
}
