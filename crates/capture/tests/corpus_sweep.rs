//! Whole-corpus check against capinfos: every capture in ../shared/corpus (when present),
//! packet count and earliest/latest packet time. Slow (one capinfos run per capture), so
//! ignored by default: `cargo test -p phonehome-capture --test corpus_sweep -- --ignored`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// Captures where capinfos is wrong, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "tcpdump/timestamp_invalid_micro.pcap",
    "a microsecond field of 0x80000000: Wireshark multiplies it by 1000 in 32 bits and gets 0",
)];

#[test]
#[ignore = "needs ../shared/corpus and capinfos; slow"]
fn corpus_matches_capinfos() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        eprintln!("no corpus at {}: skipped", root.display());
        return;
    };
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let path = root.join(line.split('\t').next().unwrap());
        let name = line.split('\t').next().unwrap();
        if KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Some(ci) = capinfos(&path) else { continue };
        checked += 1;
        let ours = match read_all(&bytes) {
            Ok(r) => r,
            Err(e) => {
                mismatches.push(format!("{}: open failed: {e} (capinfos: {} packets)", path.display(), ci.0));
                continue;
            }
        };
        let ts: Vec<i64> = ours.packets.iter().map(|p| p.ts).collect();
        let (min, max) = (ts.iter().min().copied(), ts.iter().max().copied());
        let times_ok = match (ci.1, ci.2) {
            (Some(a), Some(b)) => min == Some(a) && max == Some(b),
            _ => true,
        };
        if ours.packets.len() != ci.0 || !times_ok || ours.error.is_some() != ci.3 {
            mismatches.push(format!(
                "{}: ours {} packets {:?}..{:?} error {:?}; capinfos {} packets {:?}..{:?} error {}",
                path.display(),
                ours.packets.len(),
                min,
                max,
                ours.error,
                ci.0,
                ci.1,
                ci.2,
                ci.3
            ));
        }
    }
    eprintln!("{checked} captures checked, {} mismatches", mismatches.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// (packets, earliest, latest, reported an error). Times that capinfos prints in a form we
/// cannot compare (a negative fraction) come back as `None`.
fn capinfos(path: &std::path::Path) -> Option<(usize, Option<i64>, Option<i64>, bool)> {
    let out = Command::new("capinfos").args(["-T", "-r", "-c", "-a", "-e", "-S"]).arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.trim_end().split('\t').collect();
    if f.len() < 4 {
        return None;
    }
    let time = |s: &str| -> Option<i64> {
        let (secs, frac) = s.split_once('.')?;
        let secs: i64 = secs.parse().ok()?;
        let v: i64 = frac.parse().ok()?;
        if v < 0 {
            return None;
        }
        // More than 9 digits: Wireshark prints an out-of-range nanosecond count as is.
        let scale = if frac.len() <= 9 { 10i64.pow(9 - frac.len() as u32) } else { 1 };
        Some(ns(secs, v * scale))
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    Some((f[1].parse().ok()?, time(f[2]), time(f[3]), !stderr.trim().is_empty()))
}
