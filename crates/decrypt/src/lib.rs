//! Passive TLS decryption with key logs.
//!
//! Phones and test devices whose apps log their TLS secrets (`SSLKEYLOGFILE`, PCAPdroid's
//! decryption, mitmproxy) let a passive observer read inside HTTPS. This crate does the two
//! steps between a reassembled TCP stream and its plaintext:
//!
//! - [`keylog`]: NSS key log text (files, and pcapng Decryption Secrets Blocks, which carry the
//!   same text) into a [`KeyLog`] looked up by ClientHello random. Bounded, redacted in `Debug`.
//! - [`tls`]: a [`TlsDecryptor`] per TCP connection. It parses the records of both directions
//!   itself (hellos, ChangeCipherSpec, TLS 1.3 handshake and KeyUpdate), derives record keys
//!   from the key log and hands on decrypted application data per direction, or says why it
//!   cannot ([`StopReason`]).
//! - [`quic`]: a [`QuicDecryptor`] per QUIC (UDP) flow: 1-RTT (and 0-RTT) packets decrypted
//!   with the same key log, v1 and v2 labels, key phase changes; STREAM frames handed on with
//!   their stream id and offset. The caller supplies the ClientHello random, which
//!   `phonehome_protocols::quic::QuicConnection` already reads from the client's Initials
//!   (`QuicHello::client_hello.random`), and feeds every datagram of both directions.
//!
//! Coverage: TLS 1.0-1.2 with AES-GCM, AES-CCM(_8), ChaCha20-Poly1305 and AES-CBC with
//! HMAC-SHA1/256/384 (MAC-then-encrypt and encrypt-then-MAC), any key exchange (the key log
//! gives the master secret), extended master secret, session resumption by session id or
//! ticket (the master secret remembered from the earlier connection in the same [`KeyLog`]
//! when the resumed one is not logged itself); TLS 1.3 with its five suites, HelloRetryRequest,
//! KeyUpdate and 0-RTT data. The [`suites::SUITES`] table lists every suite number. Not done:
//! see [`tls`]. No I/O except [`KeyLog::from_file`] / [`KeyLog::add_file`].
//!
//! # Calling protocol
//!
//! One [`KeyLog`] for the whole run, filled before packets are read (`--keylog` files) and
//! from each `Record::DecryptionSecrets` as the capture reader yields it
//! ([`KeyLog::add_dsb`]). One [`TlsDecryptor`] per TCP flow that carries TLS, fed every chunk of
//! both directions *from the first byte of the TLS stream* (so from the ClientHello; after a
//! STARTTLS/CONNECT prelude, from the first record), in stream order; a lost stretch is
//! reported with [`TlsDecryptor::gap`]. The decryptor tells client from server by who sends the
//! ClientHello, so the flow table's direction guess need not be right. At the end of the flow,
//! [`TlsDecryptor::summary`] says whether anything was decrypted and why not.
//!
//! ```
//! use phonehome_decrypt::{KeyLog, Output, TlsConfig, TlsDecryptor};
//! use phonehome_model::Direction;
//!
//! let mut keys = KeyLog::new();
//! keys.add_text(b"# from SSLKEYLOGFILE\nCLIENT_RANDOM 00... 00...\n"); // or KeyLog::from_file
//! let mut conn = TlsDecryptor::new(TlsConfig::default());
//! // For each reassembled chunk of the flow, in order:
//! let chunk: &[u8] = b"\x16\x03\x01\x00\x00";
//! conn.feed(Direction::ToServer, chunk, &mut keys, |out| match out {
//!     Output::AppData { dir, data, .. } => { /* HTTP/1.x or HTTP/2 parser of `dir` */ let _ = (dir, data); }
//!     Output::Handshake { .. } | Output::Alert { .. } => {}
//!     Output::Stopped { dir, reason } => eprintln!("{dir:?}: not decrypted: {reason}"),
//! });
//! // For a hole in the stream: conn.gap(Direction::ToClient, len, |_| {});
//! let summary = conn.summary();
//! assert!(!summary.decrypted());
//! ```
//!
//! Memory per connection: the record being read (at most 2^14 + 2048 + 5 bytes per
//! direction, sized to the record), the handshake message being read (capped, 64 KiB by
//! default) and the cipher state; a [`KeyLog`] is bounded by [`KeyLogLimits`].
#![forbid(unsafe_code)]

mod crypto;
pub mod keylog;
pub mod quic;
pub mod suites;
pub mod tls;

pub use keylog::{ClientSecrets, KeyLog, KeyLogLimits, KeyLogStats, Label, Secret, TLS_KEY_LOG};
pub use quic::{QuicDecryptor, QuicOutput, QuicStats, QuicStatus};
pub use tls::{DirStats, KeySource, Output, Status, StopReason, Summary, TlsConfig, TlsDecryptor};
