//! Reads a test capture through the workspace's own capture → decode → flow stages and feeds
//! every TCP flow to a `TlsDecryptor`, collecting what comes out.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use phonehome_capture::{CaptureReader, Record};
use phonehome_decrypt::{KeyLog, Output, Summary, TlsConfig, TlsDecryptor};
use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::Direction;
use phonehome_model::event::EndReason;

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// What one TCP connection decrypted to.
#[derive(Debug, Default)]
pub struct Conn {
    pub client_port: u16,
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    /// Handshake message types delivered, per direction, with whether they were encrypted.
    pub handshakes: Vec<(Direction, u8, bool)>,
    pub stopped: Vec<(Direction, String)>,
    pub summary: Option<Summary>,
}

#[derive(Default)]
pub struct State {
    dec: Option<TlsDecryptor>,
    conn: Conn,
}

pub struct Handler {
    pub keys: KeyLog,
    /// Feed each chunk in pieces of this many bytes (0: as delivered).
    pub piece: usize,
    pub conns: Vec<Conn>,
}

impl FlowHandler for Handler {
    type State = State;

    fn on_payload(&mut self, flow: &FlowInfo, state: &mut State, dir: Direction, payload: Payload<'_>) {
        let Payload::Stream(chunk) = payload else { return };
        let st = state;
        st.conn.client_port = flow.flow_ref.src_port.unwrap_or(0);
        let dec = st.dec.get_or_insert_with(|| TlsDecryptor::new(TlsConfig::default()));
        let conn = &mut st.conn;
        let mut sink = |o: Output<'_>| match o {
            Output::AppData { dir, data, .. } => match dir {
                Direction::ToServer => conn.to_server.extend_from_slice(data),
                Direction::ToClient => conn.to_client.extend_from_slice(data),
            },
            Output::Handshake { dir, msg_type, encrypted, .. } => conn.handshakes.push((dir, msg_type, encrypted)),
            Output::Alert { .. } => {}
            Output::Stopped { dir, reason } => conn.stopped.push((dir, reason.to_string())),
        };
        match chunk {
            Chunk::Data { bytes, .. } => {
                if self.piece == 0 {
                    dec.feed(dir, bytes, &mut self.keys, &mut sink);
                } else {
                    for p in bytes.chunks(self.piece) {
                        dec.feed(dir, p, &mut self.keys, &mut sink);
                    }
                }
            }
            Chunk::Gap { len, .. } => dec.gap(dir, len, &mut sink),
        }
    }

    fn on_end(&mut self, _flow: FlowInfo, state: State, _reason: EndReason) {
        let mut conn = state.conn;
        if let Some(dec) = state.dec {
            conn.summary = Some(dec.summary());
            self.conns.push(conn);
        }
    }
}

/// The pcapng Decryption Secrets Blocks of a capture, as a key log.
pub fn dsb_keys(path: &Path) -> KeyLog {
    let mut keys = KeyLog::new();
    let mut reader = CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap();
    while let Ok(Some(record)) = reader.next_record() {
        if let Record::DecryptionSecrets { secrets_type, data } = record {
            keys.add_dsb(secrets_type, data);
        }
    }
    keys
}

/// Decrypts every TCP connection of `capture` with `keys`.
pub fn decrypt(capture: &str, keys: KeyLog, piece: usize) -> HashMap<u16, Conn> {
    let (h, _) = phonehome_testkit::run(&data(capture), Handler { keys, piece, conns: Vec::new() });
    h.conns.into_iter().map(|c| (c.client_port, c)).collect()
}

/// Decrypts with a key log file of tests/data (or the capture's DSBs when `keylog` is None).
pub fn decrypt_with(capture: &str, keylog: Option<&str>) -> HashMap<u16, Conn> {
    let keys = match keylog {
        Some(k) => KeyLog::from_file(&data(k)).unwrap(),
        None => dsb_keys(&data(capture)),
    };
    decrypt(capture, keys, 0)
}

/// tshark's answer (expected.tsv): bytes and SHA-256 per (client port, direction).
pub fn expected(capture: &str) -> HashMap<(u16, &'static str), (usize, String)> {
    let text = std::fs::read_to_string(data("expected.tsv")).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] == capture {
            let dir = if f[2] == "to_server" { "to_server" } else { "to_client" };
            out.insert((f[1].parse().unwrap(), dir), (f[3].parse().unwrap(), f[4].to_string()));
        }
    }
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that every connection tshark decrypted is decrypted to the same bytes.
pub fn assert_matches_tshark(capture: &str, conns: &HashMap<u16, Conn>) {
    let exp = expected(capture);
    assert!(!exp.is_empty(), "{capture} not in expected.tsv");
    for ((port, dir), (len, sha)) in exp {
        let conn = conns.get(&port).unwrap_or_else(|| panic!("{capture}: no connection from port {port}"));
        let got = if dir == "to_server" { &conn.to_server } else { &conn.to_client };
        assert_eq!(
            (got.len(), sha256_hex(got)),
            (len, sha),
            "{capture} port {port} {dir}: {:?} stopped {:?}",
            conn.summary,
            conn.stopped
        );
    }
}
