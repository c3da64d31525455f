//! Client address allow-lists: IP addresses, CIDR blocks (`10.0.0.0/8`, `fd00::/8`) or `*`;
//! an empty list allows loopback clients only.

use crate::error::{Error, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which client addresses may do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressList {
    /// Networks as (address, prefix length).
    networks: Vec<(IpAddr, u8)>,
}

impl AddressList {
    /// Parses the entries of setting `setting`; an empty list is loopback only.
    pub(crate) fn parse(setting: &str, entries: &[String]) -> Result<Self> {
        if entries.is_empty() {
            return Ok(AddressList {
                networks: vec![
                    (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                    (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
                ],
            });
        }
        let networks = entries
            .iter()
            .map(|entry| {
                parse_network(entry.trim()).ok_or_else(|| {
                    Error::invalid(format!(
                        "{setting}: {entry:?} is not an IP address, a CIDR block (10.0.0.0/8) or *"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        Ok(AddressList { networks })
    }

    /// Whether a client at `ip` is allowed (an IPv4 address mapped into IPv6 counts as IPv4).
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks
            .iter()
            .any(|&(network, prefix)| within(ip, network, prefix))
    }
}

/// The networks an entry names: one, or both families' everything for `*`.
fn parse_network(entry: &str) -> Option<Vec<(IpAddr, u8)>> {
    if entry == "*" {
        return Some(vec![
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        ]);
    }
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let address: IpAddr = address.parse().ok()?;
    let address = address.to_canonical();
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= bits)?,
        None => bits,
    };
    Some(vec![(address, prefix)])
}

/// Whether `ip` is within `network/prefix` (of the same family).
fn within(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let mask = |bits: u32| {
        let host = bits - u32::from(prefix);
        u128::MAX.checked_shl(host).unwrap_or(0)
    };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = mask(32) as u32;
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = mask(128);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AddressList {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        AddressList::parse("metrics_allowed_addresses", &entries).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn empty_is_loopback_only() {
        let loopback = list(&[]);
        assert!(loopback.allows(ip("127.0.0.1")));
        assert!(loopback.allows(ip("127.9.9.9")));
        assert!(loopback.allows(ip("::1")));
        assert!(loopback.allows(ip("::ffff:127.0.0.1")));
        assert!(!loopback.allows(ip("10.0.0.1")));
        assert!(!loopback.allows(ip("::2")));
    }

    #[test]
    fn addresses_blocks_and_everyone() {
        let some = list(&["10.1.0.0/16", "192.168.1.7", "fd00::/8"]);
        assert!(some.allows(ip("10.1.200.3")));
        assert!(!some.allows(ip("10.2.0.1")));
        assert!(some.allows(ip("192.168.1.7")));
        assert!(!some.allows(ip("192.168.1.8")));
        assert!(some.allows(ip("fd12::1")));
        assert!(
            !some.allows(ip("127.0.0.1")),
            "an explicit list replaces loopback"
        );
        let everyone = list(&["*"]);
        assert!(everyone.allows(ip("8.8.8.8")) && everyone.allows(ip("2001:db8::1")));
        assert!(list(&["0.0.0.0/0"]).allows(ip("1.2.3.4")));
    }

    #[test]
    fn bad_entries_are_refused_by_setting() {
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", "::/129", ""] {
            let e = AddressList::parse("metrics_allowed_addresses", &[bad.to_owned()]).unwrap_err();
            assert!(e.message().contains("metrics_allowed_addresses"), "{e}");
        }
    }
}
