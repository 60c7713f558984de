//! `phonehome-attribute::ip::table`: the embedded IP tables' format, read from arbitrary bytes.
//!
//! Input: a selector byte, then the bytes. Selector % 4: 0 = a whole `.ipdb` file (magic,
//! header, deflate sections), 1 = an uncompressed dictionary section, 2 = an IPv4 section,
//! 3 = an IPv6 section. The first 16 bytes after the selector are also classified as an
//! IPv4 and an IPv6 address.
//!
//! Checked besides "no panic, no hang, no OOM": whatever reads is written back and read again
//! to the same value (parse, write, parse, compare), and every range a table reports answers
//! its own value at both ends.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use phonehome_attribute::ip::classify;
use phonehome_attribute::ip::table::{Dict, Ranges, Tables, V6Ranges};

fn check_v4(r: &Ranges<u32>) {
    for (s, e, v) in r.iter().take(4096) {
        assert_eq!((r.get(s), r.get(e)), (Some(v), Some(v)));
    }
}

fn check_v6(r: &V6Ranges) {
    for (s, e, v) in r.iter().take(4096) {
        assert_eq!((r.get(s), r.get(e)), (Some(v), Some(v)));
    }
}

/// Write and read back: the same tables.
fn round_trip(t: &Tables) {
    let file = t.to_file().expect("a table that was read can be written");
    assert_eq!(&Tables::from_file(&file).expect("what was written reads"), t);
}

/// A country dictionary of `n` codes, so that a range section can be written back (its
/// values index at most `n`; larger `n` are not written back: 2 bytes per code).
fn codes(n: usize) -> Dict {
    Dict::Country(vec![*b"ZZ"; n])
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    if body.len() >= 16 {
        let b: [u8; 16] = body[..16].try_into().unwrap();
        let _ = classify(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])));
        let _ = classify(IpAddr::V6(Ipv6Addr::from(b)));
    }
    let empty6 = || V6Ranges::from_ranges(&[]).unwrap();
    match sel % 4 {
        0 => {
            if let Ok(t) = Tables::from_file(body) {
                check_v4(&t.v4);
                check_v6(&t.v6);
                round_trip(&t);
            }
        }
        1 => {
            if let Ok(dict) = Dict::decode(body.to_vec()) {
                if let Dict::Asn { orgs, .. } = &dict {
                    assert!((0..orgs.len()).all(|i| orgs.name(i).is_some()));
                }
                let v4 = Ranges::<u32>::from_ranges([]).unwrap();
                round_trip(&Tables { header: vec![], dict, v4, v6: empty6() });
            }
        }
        2 => {
            if let Ok((n, v4)) = Ranges::decode_v4(body) {
                check_v4(&v4);
                if n <= 1 << 16 {
                    round_trip(&Tables { header: vec![], dict: codes(n), v4, v6: empty6() });
                }
            }
        }
        _ => {
            if let Ok((n, v6)) = V6Ranges::decode(body) {
                check_v6(&v6);
                if n <= 1 << 16 {
                    let v4 = Ranges::<u32>::from_ranges([]).unwrap();
                    round_trip(&Tables { header: vec![], dict: codes(n), v4, v6 });
                }
            }
        }
    }
});
