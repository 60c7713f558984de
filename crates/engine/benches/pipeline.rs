//! Capture to flows, in memory: reading, decoding, the flow table and TCP reassembly, with
//! events discarded. Wall time on the example capture; BENCHMARKS.md has the figures on the
//! 1.1 GB capture (bench/run.sh) next to other tools.

use std::io::Cursor;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome_engine::{Config, Input};
use phonehome_model::{Event, EventSink};

struct Discard;

impl EventSink for Discard {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        std::hint::black_box(event);
        Ok(())
    }
}

fn capture_to_flows(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/1kxun.pcap");
    // Leaked so each iteration reads it in place instead of copying it.
    let data: &'static [u8] = std::fs::read(path).unwrap().leak();
    let config = Config::default();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("capture_to_flows/1kxun", |b| {
        b.iter(|| {
            let input = Input { name: "bench".into(), reader: Box::new(Cursor::new(data)) };
            phonehome_engine::run(vec![input], &config, &mut Discard).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, capture_to_flows);
criterion_main!(benches);
