#![no_main]

use libfuzzer_sys::fuzz_target;

// Placeholder: replaced by the parser author.
fuzz_target!(|_data: &[u8]| {});
