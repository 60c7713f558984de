//! Reading speed from memory (the copy into the read buffer plus parsing), for pcap and
//! pcapng with packets of typical sizes: `cargo bench -p phonehome-capture --bench reader`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Cursor;

use common::{Ng, Pcap};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome_capture::{CaptureReader, Record};

const SIZES: [usize; 4] = [60, 1514, 590, 1200];
const COUNT: usize = 100_000;

fn read_all(bytes: &'static [u8]) -> u64 {
    let mut r = CaptureReader::new(Cursor::new(bytes)).unwrap();
    let mut sum = 0u64;
    while let Some(rec) = r.next_record().unwrap() {
        if let Record::Packet(p) = rec {
            sum += u64::from(p.data[0]) + p.ts.0 as u64;
        }
    }
    sum
}

fn reader(c: &mut Criterion) {
    let mut p = Pcap::new(false, false, 1, 65535);
    let mut g = Ng::new();
    g.shb(false).idb(1, 0, &[]);
    for i in 0..COUNT {
        let data = vec![i as u8; SIZES[i % 4]];
        p.packet(i as u32, 0, &data, data.len() as u32);
        g.epb(0, i as u64, &data, data.len() as u32);
    }
    let mut group = c.benchmark_group("reader");
    for (name, bytes) in [("pcap", p.out), ("pcapng", g.out)] {
        // Leaked so each iteration reads it in place rather than copying it first.
        let bytes: &'static [u8] = bytes.leak();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| read_all(bytes)));
    }
    group.finish();
}

criterion_group!(benches, reader);
criterion_main!(benches);
