//! Reading speed from memory (the copy into the read buffer plus parsing), for pcap and
//! pcapng with packets of typical sizes. Ignored by default; run in release:
//! `cargo test -p phonehome-capture --release --test throughput -- --ignored --nocapture`.

mod common;

use std::io::Cursor;
use std::time::Instant;

use common::*;
use phonehome_capture::{CaptureReader, Record};

const SIZES: [usize; 4] = [60, 1514, 590, 1200];

fn measure(name: &str, bytes: Vec<u8>, packets: usize) {
    let len = bytes.len();
    let start = Instant::now();
    let mut r = CaptureReader::new(Cursor::new(bytes)).unwrap();
    let (mut n, mut sum) = (0usize, 0u64);
    while let Some(rec) = r.next_record().unwrap() {
        if let Record::Packet(p) = rec {
            n += 1;
            sum += u64::from(p.data[0]) + p.ts.0 as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, packets);
    std::hint::black_box(sum);
    eprintln!(
        "{name}: {:.0} MB in {secs:.3} s = {:.2} GB/s, {:.1} Mpackets/s",
        len as f64 / 1e6,
        len as f64 / secs / 1e9,
        n as f64 / secs / 1e6
    );
}

#[test]
#[ignore = "benchmark; run in release"]
fn throughput() {
    let count = 400_000;
    let mut p = Pcap::new(false, false, 1, 65535);
    let mut g = Ng::new();
    g.shb(false).idb(1, 0, &[]);
    for i in 0..count {
        let data = vec![i as u8; SIZES[i % 4]];
        p.packet(i as u32, 0, &data, data.len() as u32);
        g.epb(0, i as u64, &data, data.len() as u32);
    }
    measure("pcap", p.out, count);
    measure("pcapng", g.out, count);
}
