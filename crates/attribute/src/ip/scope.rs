//! Special-purpose addresses (IANA's IPv4 and IPv6 special-purpose registries, RFC 6890 and
//! successors), which are labelled and never geolocated, and IPv6 forms that carry an IPv4
//! address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address this is. Only [`Scope::Public`] addresses are looked up in the
/// country and ASN tables: the others are not routed on the Internet (or not to one place), so
/// a country for them would be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Globally routable unicast: looked up.
    Public,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), IPv6 unique local fc00::/7, deprecated
    /// site-local fec0::/10, and the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215).
    Private,
    /// Shared address space for carrier-grade NAT, 100.64.0.0/10 (RFC 6598).
    Shared,
    /// 127/8, ::1.
    Loopback,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 224/4, ff00::/8.
    Multicast,
    /// The limited broadcast address 255.255.255.255. (A subnet's directed broadcast cannot
    /// be told from a host address without the netmask.)
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737), 2001:db8::/32 (RFC 3849) and
    /// 3fff::/20 (RFC 9637).
    Documentation,
    /// 198.18/15 (RFC 2544), 2001:2::/48 (RFC 5180).
    Benchmarking,
    /// 0.0.0.0 and ::.
    Unspecified,
    /// Everything else that is not routed: 0/8 ("this network"), 192.0.0/24 (IETF protocol
    /// assignments), 240/4 (future use), IPv4-compatible ::a.b.c.d, discard-only 100::/64,
    /// ORCHID 2001:10::/28 and 2001:20::/28, and IPv6 outside 2000::/3.
    Reserved,
}

impl Scope {
    /// The name used in output (`"public"`, `"private"`, `"link_local"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::Private => "private",
            Scope::Shared => "shared",
            Scope::Loopback => "loopback",
            Scope::LinkLocal => "link_local",
            Scope::Multicast => "multicast",
            Scope::Broadcast => "broadcast",
            Scope::Documentation => "documentation",
            Scope::Benchmarking => "benchmarking",
            Scope::Unspecified => "unspecified",
            Scope::Reserved => "reserved",
        }
    }

    /// True for [`Scope::Public`], the only scope that is geolocated.
    pub fn is_public(self) -> bool {
        self == Scope::Public
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an IPv6 address carries the IPv4 address that was looked up in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Embedding {
    /// IPv4-mapped `::ffff:a.b.c.d` (RFC 4291): a dual-stack socket's view of an IPv4 peer.
    Mapped,
    /// NAT64 well-known prefix `64:ff9b::a.b.c.d` (RFC 6052): the IPv4 server behind a
    /// NAT64 gateway, as IPv6-only phone networks (T-Mobile US, Jio...) show it.
    Nat64,
    /// 6to4 `2002:aabb:ccdd::/48` (RFC 3056): the site's public IPv4 address.
    SixToFour,
    /// Teredo `2001:0::/32` (RFC 4380): the client's public (NAT-mapped) IPv4 address, stored
    /// inverted in the last 32 bits. That is where the host is; the server address in bits
    /// 32..64 only names its Teredo server (MaxMind's own aliasing looks that one up).
    Teredo,
}

/// An IPv4 address found inside an IPv6 one, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Embedded {
    /// The IPv6 form.
    pub how: Embedding,
    /// The IPv4 address that was classified and looked up instead.
    pub ipv4: Ipv4Addr,
}

/// The scope of an IPv4 address.
pub fn scope_v4(ip: Ipv4Addr) -> Scope {
    let [a, b, c, _] = ip.octets();
    let n = u32::from(ip);
    let within = |net: u32, len: u32| n >> (32 - len) == net >> (32 - len);
    match a {
        0 if n == 0 => Scope::Unspecified,
        0 => Scope::Reserved,
        10 => Scope::Private,
        100 if (64..128).contains(&b) => Scope::Shared,
        127 => Scope::Loopback,
        169 if b == 254 => Scope::LinkLocal,
        172 if (16..32).contains(&b) => Scope::Private,
        192 if b == 168 => Scope::Private,
        192 if b == 0 && c == 0 => Scope::Reserved,
        192 if b == 0 && c == 2 => Scope::Documentation,
        198 if b == 51 && c == 100 => Scope::Documentation,
        203 if b == 0 && c == 113 => Scope::Documentation,
        198 if within(0xc612_0000, 15) => Scope::Benchmarking,
        224..=239 => Scope::Multicast,
        255 if n == u32::MAX => Scope::Broadcast,
        240..=255 => Scope::Reserved,
        _ => Scope::Public,
    }
}

/// The scope of an IPv6 address, and the IPv4 address it carries when it is one of the
/// forms in [`Embedding`]; the scope is then that IPv4 address's.
pub fn scope_v6(ip: Ipv6Addr) -> (Scope, Option<Embedded>) {
    let n = u128::from(ip);
    let within = |net: u128, len: u32| n >> (128 - len) == net >> (128 - len);
    let seg = ip.segments();
    let embedded = |how, ipv4: Ipv4Addr| (scope_v4(ipv4), Some(Embedded { how, ipv4 }));
    let low32 = Ipv4Addr::from(n as u32);
    let scope = if n == 0 {
        Scope::Unspecified
    } else if n == 1 {
        Scope::Loopback
    } else if within(0xffff << 32, 96) {
        return embedded(Embedding::Mapped, low32);
    } else if within(0, 96) {
        Scope::Reserved // IPv4-compatible, deprecated by RFC 4291
    } else if within(0x0064_ff9b << 96, 96) {
        return embedded(Embedding::Nat64, low32);
    } else if within(0x0064_ff9b_0001 << 80, 48) {
        Scope::Private
    } else if within(0x0100 << 112, 64) {
        Scope::Reserved
    } else if within(0xfc00 << 112, 7) {
        Scope::Private
    } else if within(0xfe80 << 112, 10) {
        Scope::LinkLocal
    } else if within(0xfec0 << 112, 10) {
        Scope::Private
    } else if within(0xff00 << 112, 8) {
        Scope::Multicast
    } else if !within(0x2000 << 112, 3) {
        Scope::Reserved
    } else if within(0x2001_0000 << 96, 32) {
        return embedded(Embedding::Teredo, Ipv4Addr::from(!(n as u32)));
    } else if within(0x2002 << 112, 16) {
        let v4 = (u32::from(seg[1]) << 16) | u32::from(seg[2]);
        return embedded(Embedding::SixToFour, Ipv4Addr::from(v4));
    } else if within(0x2001_0db8 << 96, 32) || within(0x3fff << 112, 20) {
        Scope::Documentation
    } else if within(0x2001_0002 << 96, 48) {
        Scope::Benchmarking
    } else if within(0x2001_0010 << 96, 28) || within(0x2001_0020 << 96, 28) {
        Scope::Reserved
    } else {
        Scope::Public
    };
    (scope, None)
}

/// The scope of any address, with the embedded IPv4 address for IPv6 forms that carry one.
pub fn classify(ip: IpAddr) -> (Scope, Option<Embedded>) {
    match ip {
        IpAddr::V4(v4) => (scope_v4(v4), None),
        IpAddr::V6(v6) => scope_v6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ip: &str) -> Scope {
        classify(ip.parse().unwrap()).0
    }

    #[test]
    fn ipv4_edges() {
        for (ip, want) in [
            ("0.0.0.0", Scope::Unspecified),
            ("0.1.2.3", Scope::Reserved),
            ("1.0.0.0", Scope::Public),
            ("9.255.255.255", Scope::Public),
            ("10.0.0.0", Scope::Private),
            ("10.255.255.255", Scope::Private),
            ("11.0.0.0", Scope::Public),
            ("100.63.255.255", Scope::Public),
            ("100.64.0.0", Scope::Shared),
            ("100.127.255.255", Scope::Shared),
            ("100.128.0.0", Scope::Public),
            ("127.0.0.1", Scope::Loopback),
            ("169.253.255.255", Scope::Public),
            ("169.254.1.1", Scope::LinkLocal),
            ("172.15.255.255", Scope::Public),
            ("172.16.0.0", Scope::Private),
            ("172.31.255.255", Scope::Private),
            ("172.32.0.0", Scope::Public),
            ("192.0.0.8", Scope::Reserved),
            ("192.0.1.1", Scope::Public),
            ("192.0.2.1", Scope::Documentation),
            ("192.0.3.1", Scope::Public),
            ("192.168.1.1", Scope::Private),
            ("198.17.255.255", Scope::Public),
            ("198.18.0.0", Scope::Benchmarking),
            ("198.19.255.255", Scope::Benchmarking),
            ("198.20.0.0", Scope::Public),
            ("198.51.100.7", Scope::Documentation),
            ("203.0.113.9", Scope::Documentation),
            ("223.255.255.255", Scope::Public),
            ("224.0.0.251", Scope::Multicast),
            ("239.255.255.250", Scope::Multicast),
            ("240.0.0.1", Scope::Reserved),
            ("255.255.255.254", Scope::Reserved),
            ("255.255.255.255", Scope::Broadcast),
        ] {
            assert_eq!(s(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_edges() {
        for (ip, want) in [
            ("::", Scope::Unspecified),
            ("::1", Scope::Loopback),
            ("::2", Scope::Reserved),
            ("::8.8.8.8", Scope::Reserved),
            ("64:ff9b:1::1", Scope::Private),
            ("100::1", Scope::Reserved),
            ("100:0:0:1::1", Scope::Reserved),
            ("100:0:0:0:1::", Scope::Reserved),
            ("1fff:ffff::1", Scope::Reserved),
            ("2000::1", Scope::Public),
            ("2001:2::1", Scope::Benchmarking),
            ("2001:2:1::1", Scope::Public),
            ("2001:4:112::1", Scope::Public),
            ("2001:10::1", Scope::Reserved),
            ("2001:2f::1", Scope::Reserved),
            ("2001:30::1", Scope::Public),
            ("2001:db8::1", Scope::Documentation),
            ("2001:db9::1", Scope::Public),
            ("2404:6800:4003::200e", Scope::Public),
            ("3fff::1", Scope::Documentation),
            ("3fff:fff::1", Scope::Documentation),
            ("3fff:1000::1", Scope::Public),
            ("4000::1", Scope::Reserved),
            ("fc00::1", Scope::Private),
            ("fdff::1", Scope::Private),
            ("fe80::1", Scope::LinkLocal),
            ("febf::1", Scope::LinkLocal),
            ("fec0::1", Scope::Private),
            ("ff02::fb", Scope::Multicast),
        ] {
            assert_eq!(s(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_carrying_ipv4() {
        let e = |ip: &str| classify(ip.parse().unwrap());
        let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            e("::ffff:8.8.8.8"),
            (Scope::Public, Some(Embedded { how: Embedding::Mapped, ipv4: v4("8.8.8.8") }))
        );
        assert_eq!(
            e("::ffff:192.168.0.1"),
            (Scope::Private, Some(Embedded { how: Embedding::Mapped, ipv4: v4("192.168.0.1") }))
        );
        assert_eq!(
            e("64:ff9b::2a3e:3001"),
            (Scope::Public, Some(Embedded { how: Embedding::Nat64, ipv4: v4("42.62.48.1") }))
        );
        assert_eq!(
            e("2002:0808:0404::1"),
            (Scope::Public, Some(Embedded { how: Embedding::SixToFour, ipv4: v4("8.8.4.4") }))
        );
        // RFC 4380 section 4's example: server 65.54.227.120, client 192.0.2.45 behind NAT.
        assert_eq!(
            e("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            (Scope::Documentation, Some(Embedded { how: Embedding::Teredo, ipv4: v4("192.0.2.45") }))
        );
    }
}
