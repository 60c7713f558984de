//! Runs the whole pipeline (capture -> decode -> flow -> protocols -> events) on one input,
//! and serialises every event to JSON, so event serialisation is fuzzed too.
//!
//! Besides not panicking or hanging, checks that every event serialises and that the last
//! event of a successful run is the `stats` event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_engine::{Config, Input};
use phonehome_model::{Event, EventBody, EventSink};

struct JsonSink {
    out: Vec<u8>,
    last_was_stats: bool,
}

impl EventSink for JsonSink {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event).expect("every event serialises");
        self.out.push(b'\n');
        self.last_was_stats = matches!(event.body, EventBody::Stats(_));
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sink = JsonSink { out: Vec::new(), last_was_stats: false };
    let input = Input { name: "fuzz".into(), reader: Box::new(std::io::Cursor::new(data.to_vec())) };
    let result = phonehome_engine::run(vec![input], &Config::default(), &mut sink);
    std::hint::black_box(sink.out.len());
    if result.is_ok() {
        assert!(sink.last_was_stats, "a successful run ends with the stats event");
    }
});
