//! QUIC Initial packets: decryption and the ClientHello they carry.
