//! QUIC: the ClientHello inside the client's Initial packets.

use super::Dissector;

/// Placeholder until the Initial decryption lands in `phonehome_protocols::quic`.
pub(crate) struct QuicDissector;

impl QuicDissector {
    pub(crate) fn new() -> QuicDissector {
        QuicDissector
    }
}

impl Dissector for QuicDissector {}
