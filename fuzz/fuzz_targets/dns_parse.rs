//! Fuzzes the DNS parser and the DNS-over-TCP framer.
//!
//! The whole input is parsed as one message under the default limits and under tiny ones
//! (so the caps' paths run too). It is then fed to a `TcpFramer` as a stream, cut into
//! chunks whose sizes come from the input's own bytes, and every framed message is parsed.
//!
//! Checked: no panic; framed messages never exceed the cap and, laid end to end with their
//! prefixes, are exactly a prefix of the stream; the framer never buffers more than a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_protocols::dns::{self, Limits, TcpFramer};

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse(data, &Default::default());
    let tiny = Limits { max_questions: 1, max_records: 2, max_pointer_jumps: 3 };
    let _ = dns::parse(data, &tiny);

    let cap = 1 + usize::from(data.first().copied().unwrap_or(0)) * 4;
    let mut framer = TcpFramer::new(cap);
    let mut rebuilt = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let size = (usize::from(data[i % data.len()]) % 37 + 1).min(rest.len());
        let (chunk, r) = rest.split_at(size);
        framer.push(chunk, |m| {
            assert!(m.len() <= cap);
            rebuilt.extend_from_slice(&(m.len() as u16).to_be_bytes());
            rebuilt.extend_from_slice(m);
            let _ = dns::parse(m, &tiny);
        });
        assert!(framer.buffered() <= cap + 1);
        rest = r;
        i += 1;
    }
    assert_eq!(&data[..rebuilt.len()], &rebuilt[..]);
});
