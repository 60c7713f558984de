//! The whole pipeline under tiny caps, over two inputs, with identifier search on: where
//! `pipeline` runs one input with the default (large) caps, this one makes every cap path
//! run (flow eviction, reassembly buffers, fragments, TLS and HTTP caps, the DNS name table,
//! findings per flow) and carries flow state from one input to the next, as the CLI does
//! with several captures.
//!
//! Input: a knob byte (caps scale, whether a second input follows), a cut byte, then a
//! capture. The second input is the capture cut at `cut / 255` of its length, so flows of
//! the first input meet their own packets again under another input index.
//!
//! Checked besides "no panic, no hang, no OOM": every event serialises; a successful run
//! ends with the `stats` event and names every input in it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phonehome_detect::{DeclaredId, Options, Profile};
use phonehome_engine::{Config, Detection, Input};
use phonehome_model::{Event, EventBody, EventSink};

struct JsonSink {
    out: Vec<u8>,
    last_was_stats: bool,
    inputs_in_stats: usize,
}

impl EventSink for JsonSink {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event).expect("every event serialises");
        self.out.push(b'\n');
        self.last_was_stats = matches!(event.body, EventBody::Stats(_));
        if let EventBody::Stats(s) = &event.body {
            self.inputs_in_stats = s.inputs.len();
        }
        Ok(())
    }
}

/// Undeclared detection plus two declared values, at most 2 findings per call and stream
/// (building the scanner is the slow part, so once per process).
fn detection() -> &'static Detection {
    static D: OnceLock<Detection> = OnceLock::new();
    D.get_or_init(|| {
        let mut profile = Profile::default();
        for id in ["imei=356938035643809", "email=jane.doe@example.com"] {
            profile.ids.push(DeclaredId::parse_flag(id).expect("a valid id"));
        }
        let options = Options { max_findings_per_stream: 2, max_findings_per_call: 2, ..Options::default() };
        Detection::new(&profile, &options)
    })
}

fuzz_target!(|data: &[u8]| {
    let [knob, cut, capture @ ..] = data else { return };
    let s = usize::from(knob & 3);
    let mut config = Config::default();
    config.flow.max_flows = 1 + (s * 3);
    config.flow.reassembly.max_buffer_per_direction = 64 << s;
    config.flow.reassembly.max_segments_per_direction = 2 + s * 4;
    config.flow.tcp_max_buffer_total = 256 << s;
    config.decoder.frag_max_bytes = 128 << s;
    config.decoder.frag_max_datagrams = 1 + s;
    config.decoder.frag_max_per_datagram = 2 + s * 2;
    config.protocols.tls_handshake_max = 64 << (2 * s);
    config.protocols.dns_names_max = 1 + s;
    config.protocols.http.max_head = 64 << s;
    config.protocols.http.max_headers = 1 + s * 3;
    config.protocols.http.max_body = 16 << (2 * s);
    config.protocols.http.max_pending = 1 + s;
    config.detection = detection().clone();

    let mut inputs = vec![Input { name: "first".into(), reader: Box::new(std::io::Cursor::new(capture.to_vec())) }];
    if knob & 4 != 0 {
        let at = capture.len() * usize::from(*cut) / 255;
        inputs.push(Input { name: "second".into(), reader: Box::new(std::io::Cursor::new(capture[..at].to_vec())) });
    }
    let n = inputs.len();
    let mut sink = JsonSink { out: Vec::new(), last_was_stats: false, inputs_in_stats: 0 };
    let result = phonehome_engine::run(inputs, &config, &mut sink);
    std::hint::black_box(sink.out.len());
    if result.is_ok() {
        assert!(sink.last_was_stats, "a successful run ends with the stats event");
        assert_eq!(sink.inputs_in_stats, n, "stats names every input");
    }
});
