//! QUIC 1-RTT decryption on real captures: STREAM frames per direction against tshark's
//! `quic.stream_data` (frames and bytes), keys from a key log file and from pcapng DSBs, QUIC
//! v1 and v2.

mod common;

use common::{data, dsb_keys};
use phonehome_decrypt::{KeyLog, QuicDecryptor, QuicOutput, QuicStatus};
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::Direction;
use phonehome_model::event::EndReason;
use phonehome_protocols::quic::QuicConnection;

#[derive(Default)]
struct State {
    hello: QuicConnection,
    dec: QuicDecryptor,
    /// (frames, bytes) per direction, and the data of stream 0 per direction.
    frames: [(u64, u64); 2],
    stream0: [Vec<u8>; 2],
}

struct Handler {
    keys: KeyLog,
    done: Vec<State>,
}

impl FlowHandler for Handler {
    type State = State;

    fn on_payload(&mut self, _flow: &FlowInfo, st: &mut State, dir: Direction, payload: Payload<'_>) {
        let Payload::Datagram { bytes, .. } = payload else { return };
        if dir == Direction::ToServer
            && let Some(h) = st.hello.client_datagram(bytes)
        {
            st.dec.set_client_random(h.client_hello.random);
        }
        let (frames, stream0) = (&mut st.frames, &mut st.stream0);
        st.dec.datagram(dir, bytes, &self.keys, |o| {
            if let QuicOutput::Stream { dir, stream_id, data, .. } = o {
                let d = dir as usize;
                frames[d].0 += 1;
                frames[d].1 += data.len() as u64;
                if stream_id == 0 {
                    stream0[d].extend_from_slice(data);
                }
            }
        });
    }

    fn on_end(&mut self, _flow: FlowInfo, state: State, _reason: EndReason) {
        if state.dec.stats(Direction::ToServer).packets + state.dec.stats(Direction::ToClient).packets > 0 {
            self.done.push(state);
        }
    }
}

fn run(capture: &str, keys: KeyLog) -> State {
    let (mut h, _) = phonehome_testkit::run(&data(capture), Handler { keys, done: Vec::new() });
    assert_eq!(h.done.len(), 1, "{capture}");
    h.done.pop().unwrap()
}

#[test]
fn quic_v1_illustrated_ping_pong_from_key_log_file() {
    let st = run("illustrated-quic__capture.pcap", KeyLog::from_file(&data("illustrated-quic__keylog.txt")).unwrap());
    assert_eq!(st.dec.status(), QuicStatus::Decrypting);
    assert_eq!((&st.stream0[0][..], &st.stream0[1][..]), (&b"ping"[..], &b"pong"[..]));
}

#[test]
fn quic_v1_chrome_cloudflare_http3_from_dsb() {
    let cap = "ja4__chrome-cloudflare-quic-with-secrets.pcapng";
    let st = run(cap, dsb_keys(&data(cap)));
    assert_eq!(st.dec.status(), QuicStatus::Decrypting);
    // tshark 4.0.17: quic.stream_data frames and bytes from the client (port 50280) and server.
    assert_eq!(st.frames, [(3, 475), (15, 10340)]);
    // HTTP/3 request stream 0: a HEADERS frame (type 1) first.
    assert_eq!(st.stream0[0][0], 0x01);
    // tshark fails two packets too (frames 48 and 49: "Decryption failed").
    assert_eq!(st.dec.stats(Direction::ToClient).auth_failures + st.dec.stats(Direction::ToServer).auth_failures, 2);
}

#[test]
fn quic_v2_labels_from_dsb() {
    let cap = "ndpi__quic-v2.pcapng";
    let st = run(cap, dsb_keys(&data(cap)));
    assert_eq!(st.dec.status(), QuicStatus::Decrypting);
    // The client's first four STREAM frames (47 bytes) travel in a 0-RTT packet.
    assert_eq!(st.frames, [(10, 166), (7, 1255)]);
    assert_eq!(st.dec.stats(Direction::ToServer).early_packets, 1);
}

#[test]
fn quic_without_keys_says_no_key() {
    let st = run("illustrated-quic__capture.pcap", KeyLog::new());
    assert_eq!(st.dec.status(), QuicStatus::NoKey);
    assert_eq!(st.frames, [(0, 0), (0, 0)]);
}
