//! Shared by the ip tests and bench: the ip-location-db sources in `../shared/data` (beside
//! the repository; CI has them), unpacked once into cargo's scratch directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/data/ip-location-db` relative to the repository root, if present.
pub fn source_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ip-location-db");
    dir.is_dir().then_some(dir)
}

/// Prints why a test that needs the sources does nothing, so a skip is never silent.
pub fn skip(test: &str) {
    eprintln!(
        "SKIPPED {test}: ../shared/data/ip-location-db is not beside the repository \
         (CI has it); nothing was compared"
    );
}

/// The newest package whose name starts with `prefix` (and is not the `-mmdb-` variant
/// of the asn package when `prefix` is the asn one).
fn package(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix)
                && name.ends_with(".tgz")
                && name[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
        })
        .collect();
    found.sort();
    found.pop()
}

/// Unpacks `files` (paths inside the package, e.g. `package/asn-ipv4.csv`) of the newest
/// package named `prefix<version>.tgz` into a scratch directory, once (later calls and other
/// test binaries reuse it), and returns the directory holding `package/`.
pub fn unpacked(prefix: &str, files: &[&str]) -> Option<PathBuf> {
    let tgz = package(&source_dir()?, prefix)?;
    let stem = tgz.file_stem()?.to_string_lossy().into_owned();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ip-location-db");
    let done = root.join(&stem);
    if files.iter().all(|f| done.join(f).is_file()) {
        return Some(done);
    }
    // Unpack beside, then rename: test binaries run in parallel and must never see half a
    // file.
    let tmp = root.join(format!("{stem}.{}.tmp", std::process::id()));
    std::fs::create_dir_all(&tmp).ok()?;
    let status = Command::new("tar").arg("xzf").arg(&tgz).arg("-C").arg(&tmp).args(files).status().ok()?;
    assert!(status.success(), "tar xzf {} failed", tgz.display());
    if std::fs::rename(&tmp, &done).is_err() {
        // Another process got there first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    files.iter().all(|f| done.join(f).is_file()).then_some(done)
}

/// The source country database, unpacked.
pub fn country_mmdb() -> Option<PathBuf> {
    let f = "package/geo-whois-asn-country.mmdb";
    Some(unpacked("ip-location-db-geo-whois-asn-country-mmdb-", &[f])?.join(f))
}

/// The source ASN CSVs (IPv4, IPv6), unpacked.
pub fn asn_csvs() -> Option<(PathBuf, PathBuf)> {
    let (v4, v6) = ("package/asn-ipv4.csv", "package/asn-ipv6.csv");
    let dir = unpacked("ip-location-db-asn-", &[v4, v6])?;
    Some((dir.join(v4), dir.join(v6)))
}

/// splitmix64: deterministic samples without a rand dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}
