//! HTTP/1.x transactions, over TCP and UDP (SSDP).

use super::Dissector;

/// Placeholder until the HTTP parser lands in `phonehome_protocols::http`.
pub(crate) struct HttpDissector;

impl HttpDissector {
    pub(crate) fn new() -> HttpDissector {
        HttpDissector
    }
}

impl Dissector for HttpDissector {}
