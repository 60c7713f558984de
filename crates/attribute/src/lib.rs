//! Attribution: who is behind a destination, and where.
//!
//! * [`ip`]: what an address is (private, CGNAT, link-local, multicast, documentation...) and,
//!   for public ones, the country it is registered or announced in and the AS announcing it,
//!   from tables embedded in the binary or the user's MaxMind-format databases.
//! * [`domain`]: a host name's registrable domain (public suffix list) and the company that
//!   owns it (embedded table written from public facts, one source per entry, plus the user's
//!   tracker and entity lists), with the company's home country and a category.
//!
//! Pure lookups over data loaded once; the engine caches per address and per name.
#![forbid(unsafe_code)]

pub mod domain;
pub mod ip;
