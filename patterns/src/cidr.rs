//! CIDR blocks (IPv4 and IPv6) and IP addresses in events.

use std::net::IpAddr;

/// An address block as an inclusive range of 128-bit integers (IPv4 kept apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Cidr {
    v6: bool,
    low: u128,
    high: u128,
}

fn to_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u32::from(a) as u128),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || {
            format!("Malformed CIDR: \"{text}\" (expected an address/prefix such as 10.0.0.0/24 or 2001:db8::/32)")
        };
        let (addr, bits) = text.split_once('/').ok_or_else(bad)?;
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u32 = bits.parse().map_err(|_| bad())?;
        let (v6, value) = to_bits(ip);
        let width = if v6 { 128 } else { 32 };
        if bits > width {
            return Err(bad());
        }
        let host = width - bits;
        let mask: u128 = if host == 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        Ok(Cidr {
            v6,
            low: value & !mask,
            high: value | mask,
        })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (v6, value) = to_bits(ip);
        v6 == self.v6 && self.low <= value && value <= self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6_blocks() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(c.contains("10.0.0.255".parse().unwrap()));
        assert!(!c.contains("10.0.1.0".parse().unwrap()));
        let c = Cidr::parse("2001:db8:1234:1a00::/64").unwrap();
        assert!(c.contains("2001:db8:1234:1a00:ffff::1".parse().unwrap()));
        assert!(!c.contains("2001:db8:1234:1a01::1".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("255.1.2.3".parse().unwrap()));
    }

    #[test]
    fn malformed_blocks_are_rejected() {
        for bad in [
            "bad-filter",
            "xx.11.xx/8",
            "bad-/64filter",
            "10.0.0.0/33",
            "10.0.0.0",
            "xxxx:db8:1234:1a00::/64",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
