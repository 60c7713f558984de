//! Reads every record of an arbitrary input as a capture (pcap, pcapng, gzip of either).
//!
//! Besides not panicking or hanging, checks the reader's promises: packet offsets increase,
//! a record lies inside the consumed input, and once reading ends it stays ended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome_capture::{CaptureReader, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let gzip = reader.format().ends_with("+gzip");
    let mut last_offset = None;
    loop {
        match reader.next_record() {
            Ok(Some(Record::Packet(p))) => {
                assert!(last_offset.is_none_or(|o| p.offset > o), "packet offsets must increase");
                last_offset = Some(p.offset);
                // Touch the bytes so the slice is really read.
                std::hint::black_box(p.data.iter().fold(0u8, |a, &b| a ^ b));
            }
            Ok(Some(Record::DecryptionSecrets { data, .. })) => {
                std::hint::black_box(data.len());
            }
            Ok(Some(Record::NameResolution(entries))) => {
                std::hint::black_box(entries.len());
            }
            Ok(None) | Err(_) => break,
        }
        if !gzip {
            assert!(reader.offset() <= data.len() as u64, "offset past the input");
        }
    }
    assert!(matches!(reader.next_record(), Ok(None)), "the reader must stay ended");
});
