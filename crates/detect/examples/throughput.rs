//! Scanner throughput measured in CPU time (this process's user + system time from
//! /proc/self/stat), for machines shared with other work where criterion's wall-clock figures
//! (`cargo bench -p phonehome-detect --bench scan`) swing with the load. Same texts and
//! profile as the benchmark; each case runs for at least 2 s of CPU time.
//!
//! `cargo run --release -p phonehome-detect --example throughput`

#[path = "../tests/common/mod.rs"]
mod common;

use phonehome_detect::{Location, Options, Profile, Scanner, StreamScanner};

/// User + system CPU seconds of this process (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(") ").map_or("", |r| r.1);
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ
}

fn measure(mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = cpu_seconds();
    let mut n = 0u64;
    while cpu_seconds() - start < 2.0 {
        for _ in 0..50 {
            f();
        }
        n += 50;
    }
    (cpu_seconds() - start) / n as f64
}

fn request_text(r: &common::Request) -> Vec<u8> {
    let mut t = r.uri.as_bytes().to_vec();
    t.extend_from_slice(b" HTTP/1.1\r\n");
    for (n, v) in &r.headers {
        t.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    t.extend_from_slice(b"\r\n");
    t.extend_from_slice(&r.body);
    t
}

fn fill(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < 64 * 1024 {
        for p in parts {
            out.extend_from_slice(p);
        }
    }
    out.truncate(64 * 1024);
    out
}

fn main() {
    let profile = common::profile50();
    let reqs: Vec<Vec<u8>> = common::requests().iter().map(request_text).collect();
    let http = fill(&reqs);
    let undeclared = Scanner::new(&Profile::default(), &Options::default());
    let clean: Vec<Vec<u8>> = reqs
        .into_iter()
        .filter(|t| {
            let mut out = Vec::new();
            undeclared.scan(t, Location::Payload, &mut out);
            out.is_empty()
        })
        .collect();
    let clean = fill(&clean);
    let mut bin: Vec<u8> = common::payloads().into_iter().flat_map(|p| p.bytes).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bin.len() < 64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bin.extend_from_slice(&x.to_le_bytes());
    }
    bin.truncate(64 * 1024);
    let tls: Vec<u8> = common::tls_app_data().into_iter().take(64 * 1024).collect();

    let full = Scanner::new(&profile, &Options::default());
    let declared = Scanner::new(&profile, &Options { undeclared: false, ..Options::default() });
    println!("| text (64 KiB) | scanner | location | MB/s (CPU time) |\n|---|---|---|---:|");
    let mut out = Vec::new();
    for (name, text) in [("http", &http), ("clean", &clean), ("binary", &bin), ("tls", &tls)] {
        for (sname, sc) in [("declared", &declared), ("declared+undeclared", &full)] {
            for (lname, loc) in [("payload (pre-passes)", Location::Payload), ("dns (no pre-pass)", Location::Dns)] {
                let t = measure(|| {
                    out.clear();
                    sc.scan(text, loc, &mut out);
                });
                println!("| {name} | {sname} | {lname} | {:.0} |", text.len() as f64 / t / 1e6);
            }
        }
    }
    // As the engine scans HTTP: the URL, each header value, the body, one call each.
    let requests = common::requests();
    let bytes: usize = requests.iter().map(|r| request_text(r).len()).sum();
    for (sname, sc) in [("declared", &declared), ("declared+undeclared", &full)] {
        let t = measure(|| {
            out.clear();
            for r in &requests {
                common::scan_request(sc, r, &mut out);
            }
        });
        println!(
            "| {} corpus requests, field by field | {sname} | url, header:NAME, cookie, body | {:.0} ({:.1} µs a request) |",
            requests.len(),
            bytes as f64 / t / 1e6,
            t * 1e6 / requests.len() as f64
        );
    }
    let t = measure(|| {
        out.clear();
        let mut st = StreamScanner::new(&full);
        for c in http.chunks(1460) {
            st.push(&full, c, Location::Payload, &mut out);
        }
        st.finish(&full, Location::Payload, &mut out);
    });
    println!("| http | declared+undeclared | stream, 1460-byte chunks | {:.0} |", http.len() as f64 / t / 1e6);
}
