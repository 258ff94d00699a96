//! The client's address behind reverse proxies: `X-Forwarded-For` is believed only when the
//! connection comes from a configured trusted proxy (`trusted_proxies`), and then the right-most
//! address that is not itself a trusted proxy is the client (addresses further left were written
//! by the client and can be anything).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// One trusted network: `10.0.0.0/8`, `::1/128`, or a bare address (one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(IpNet);

impl Network {
    /// Parses `1.2.3.4`, `10.0.0.0/8`, `::1` or `fd00::/8` (a bare address is one host; an
    /// IPv4-mapped IPv6 address is its IPv4 address).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(Network(IpNet::from(addr.to_canonical())));
        }
        text.parse::<IpNet>().map(Network).map_err(|_| {
            format!("{text:?} is not an IP address or CIDR network (prefix length at most 32 for IPv4, 128 for IPv6)")
        })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The configured trusted proxies (none by default: `X-Forwarded-For` is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Network>,
}

impl TrustedProxies {
    /// Parses each entry (see [`Network::parse`]).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let networks =
            entries.iter().map(|e| Network::parse(e.as_ref())).collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies { networks })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the connection's `peer` unless it is a trusted proxy; then the
    /// right-most address of `forwarded_for` (the `X-Forwarded-For` values, in order) that is
    /// not a trusted proxy. When every listed address is trusted, the left-most one; when an
    /// entry cannot be read, the last address before it (counting from the right).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for.iter().flat_map(|v| v.split(',')).map(str::trim).rev();
        for hop in hops.filter(|h| !h.is_empty()) {
            let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn networks_parse_and_match() {
        let net = Network::parse("10.1.0.0/16").expect("net");
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(!net.contains(ip("::1")));
        let host = Network::parse("127.0.0.1").expect("host");
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        assert!(host.contains(ip("::ffff:127.0.0.1")), "IPv4-mapped IPv6 is the IPv4 address");
        let v6 = Network::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Network::parse("0.0.0.0/0").expect("all").contains(ip("8.8.8.8")));
        assert_eq!(v6.to_string(), "fd00::/8");
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &["203.0.113.9"]), ip("127.0.0.1"));

        let proxies = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).expect("proxies");
        // Not from a proxy: the header is whatever the client wrote.
        assert_eq!(proxies.client(ip("198.51.100.7"), &["203.0.113.9"]), ip("198.51.100.7"));
        // From the proxy: the right-most untrusted address, past a second proxy hop.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &["1.1.1.1, 203.0.113.9", "10.0.0.5"]),
            ip("203.0.113.9"),
            "1.1.1.1 was written by the client"
        );
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        // Every hop trusted: the left-most.
        assert_eq!(proxies.client(ip("127.0.0.1"), &["10.0.0.9, 10.0.0.5"]), ip("10.0.0.9"));
        // Garbage: the last address before it.
        assert_eq!(proxies.client(ip("127.0.0.1"), &["203.0.113.9, nonsense"]), ip("127.0.0.1"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &["nonsense, 10.0.0.5"]),
            ip("10.0.0.5"),
            "stops at the unreadable entry"
        );
    }
}
