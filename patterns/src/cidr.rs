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

/// The block as `address/prefix`, its lowest address first.
impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = if self.v6 { 128 } else { 32 };
        let bits = width - (self.high - self.low).count_ones();
        if self.v6 {
            write!(f, "{}/{bits}", std::net::Ipv6Addr::from(self.low))
        } else {
            write!(f, "{}/{bits}", std::net::Ipv4Addr::from(self.low as u32))
        }
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

    /// `(v6, host bits, network)`: the block is every address whose bits above the
    /// host bits equal the network's.
    fn network(&self) -> (bool, u32, u128) {
        (self.v6, (self.high ^ self.low).count_ones(), self.low)
    }
}

/// CIDR blocks by family and prefix length: an address probes one hash lookup per
/// distinct prefix length, however many blocks rules name.
#[derive(Debug, Clone, Default)]
pub(crate) struct CidrIndex {
    /// Distinct `(v6, host bits)`, sorted.
    lengths: Vec<(bool, u32)>,
    blocks: rustc_hash::FxHashMap<(bool, u32, u128), Vec<u32>>,
}

impl CidrIndex {
    pub(crate) fn insert(&mut self, block: &Cidr, id: u32) {
        let (v6, host, network) = block.network();
        if let Err(at) = self.lengths.binary_search(&(v6, host)) {
            self.lengths.insert(at, (v6, host));
        }
        self.blocks.entry((v6, host, network)).or_default().push(id);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Calls `hit` for every block holding `ip`.
    pub(crate) fn hits(&self, ip: IpAddr, hit: &mut impl FnMut(u32)) {
        let (v6, value) = to_bits(ip);
        for &(family, host) in &self.lengths {
            if family != v6 {
                continue;
            }
            let mask = if host == 128 {
                u128::MAX
            } else {
                (1u128 << host) - 1
            };
            if let Some(ids) = self.blocks.get(&(v6, host, value & !mask)) {
                ids.iter().copied().for_each(&mut *hit);
            }
        }
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
        let mut index = CidrIndex::default();
        for (id, block) in ["2001:db8::/32", "::/0", "10.0.0.0/8", "0.0.0.0/0"]
            .iter()
            .enumerate()
        {
            index.insert(&Cidr::parse(block).unwrap(), id as u32);
        }
        let hits = |ip: &str| {
            let mut got = Vec::new();
            index.hits(ip.parse().unwrap(), &mut |id| got.push(id));
            got.sort_unstable();
            got
        };
        assert_eq!(hits("2001:db8:1::1"), [0, 1]);
        assert_eq!(hits("2001:db9::1"), [1]);
        assert_eq!(hits("10.1.2.3"), [2, 3]);
        assert_eq!(hits("11.1.2.3"), [3]);
    }

    proptest::proptest! {
        /// The index finds exactly the blocks that contain an address.
        #[test]
        fn index_hits_exactly_the_containing_blocks(
            blocks in proptest::collection::vec((proptest::num::u32::ANY, 0u32..=32), 1..20),
            near in 0usize..20,
            offset in proptest::num::u32::ANY,
            bits in 0u32..=32,
        ) {
            let cidrs: Vec<Cidr> = blocks
                .iter()
                .map(|&(a, b)| Cidr::parse(&format!("{}/{b}", std::net::Ipv4Addr::from(a))).unwrap())
                .collect();
            let mut index = CidrIndex::default();
            for (id, c) in cidrs.iter().enumerate() {
                index.insert(c, id as u32);
            }
            // An address inside or near one of the blocks, so that hits are common.
            let base = blocks[near % blocks.len()].0;
            let keep = if bits == 32 { 0 } else { u32::MAX >> bits };
            let ip = IpAddr::from(std::net::Ipv4Addr::from((base & !keep) | (offset & keep)));
            let mut got = Vec::new();
            index.hits(ip, &mut |id| got.push(id));
            got.sort_unstable();
            let expected: Vec<u32> = (0..cidrs.len() as u32).filter(|&id| cidrs[id as usize].contains(ip)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
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
