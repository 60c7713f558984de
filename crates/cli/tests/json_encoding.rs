//! The NDJSON encoder (`phonehome_report::json`) writes every event of real captures byte for
//! byte as serde_json does: every fixture capture and HAR, with attribution, the example
//! profile (values shown, so leak events carry them) and undeclared detection, so every event
//! type and most optional fields occur.

use std::path::Path;

use phonehome_detect::{Options, Profile};
use phonehome_engine::{Attribution, Config, Detection, Input};
use phonehome_model::{Event, EventSink};

mod common;

struct Compare {
    events: usize,
    ours: Vec<u8>,
    types: std::collections::BTreeSet<String>,
}

impl EventSink for Compare {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.ours.clear();
        phonehome_report::json::to_vec(event, &mut self.ours).unwrap();
        let theirs = serde_json::to_vec(event).unwrap();
        assert_eq!(String::from_utf8_lossy(&self.ours), String::from_utf8_lossy(&theirs));
        let v: serde_json::Value = serde_json::from_slice(&self.ours).unwrap();
        self.types.insert(v["event_type"].as_str().unwrap_or("?").to_string());
        self.events += 1;
        Ok(())
    }
}

#[test]
fn ndjson_lines_are_serde_jsons() {
    let root = common::root();
    let profile = Profile::load(root.join("examples/profile.toml")).unwrap();
    let options = Options { show_values: true, ..Options::default() };
    let config = Config {
        detection: Detection::new(&profile, &options),
        attribution: Attribution::embedded(),
        ..Config::default()
    };
    let mut sink = Compare { events: 0, ours: Vec::new(), types: Default::default() };
    let mut inputs = 0;
    for dir in ["fixtures/captures", "fixtures/har", "examples"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.iter().filter(|p| is_input(p)) {
            let input = Input::open(path.to_str().unwrap()).unwrap();
            phonehome_engine::run(vec![input], &config, &mut sink).unwrap();
            inputs += 1;
        }
    }
    assert!(inputs > 50, "{inputs} inputs");
    assert!(sink.events > 1000, "{} events", sink.events);
    for t in ["flow", "dns", "tls", "quic", "http", "leak", "stats"] {
        assert!(sink.types.contains(t), "no {t} event among {:?}", sink.types);
    }
}

fn is_input(p: &Path) -> bool {
    let name = p.file_name().unwrap().to_string_lossy();
    [".pcap", ".pcapng", ".har", ".cap"].iter().any(|ext| name.ends_with(ext))
}
