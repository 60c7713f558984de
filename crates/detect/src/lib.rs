//! Identifier detection: which of the device's identifiers leave it, in which disguise.
//!
//! * [`Profile`] / [`DeclaredId`]: the identifiers the user declared (TOML file, `--id` flags).
//! * [`forms`]: every canonical form and encoding of each declared value.
//! * [`Scanner`]: one pass over a text finds all of them (a sampling filter over the text, a
//!   dictionary of the patterns where it fires), decodes URL-encoded and JSON-escaped text and searches it too, and runs
//!   the undeclared detectors (key-hinted, validated: IMEI, IMSI, ICCID, MAC, e-mail, phone,
//!   GPS, Android and advertising ids). [`StreamScanner`] does the same over a chunked stream.
//! * [`validate`]: the validators (Luhn, MCC table, MAC, UUID, e-mail, phone).
//!
//! Pure library: no I/O except [`Profile::load`] reading the file it is given. It does not
//! parse protocols: the caller hands it URLs, header values, decoded bodies, payload chunks,
//! DNS names and SNIs, each with a [`Location`]. Design and evaluation: docs/DETECTION.md.
#![forbid(unsafe_code)]

pub mod encode;
pub mod forms;
pub mod kind;
pub mod phone;
pub mod profile;
pub mod scan;
mod undeclared;
pub mod validate;

pub use kind::{Kind, UnknownKind};
pub use profile::{DeclaredId, Profile, ProfileError};
pub use scan::{Confidence, Finding, Location, Options, ScanStats, Scanner, StreamScanner};
