//! What the end-to-end tests share: running the binary from the repository root and reading
//! its NDJSON.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root, where fixture paths start.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `phonehome ARGS...` in the repository root.
pub fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

/// The events of `phonehome analyze --format ndjson ARGS...`, which must succeed.
pub fn ndjson(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["analyze", "--format", "ndjson"];
    all.extend_from_slice(args);
    let out = phonehome(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The events of one `event_type`.
pub fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == t).collect()
}
