//! TCP reassembly on real captures: every reassembled stream, byte for byte (length and
//! FNV-1a hash), against tshark's `follow,tcp,raw` (fixtures/streams, written by
//! scripts/make_stream_truth.py). The captures have retransmissions and out-of-order segments
//! but no lost ones, so the streams must match exactly.

use std::collections::HashMap;
use std::path::Path;

use phonehome_flow::tcp::Chunk;
use phonehome_flow::{FlowHandler, FlowInfo, Payload};
use phonehome_model::event::EndReason;
use phonehome_model::{Counters, Direction};
use phonehome_testkit::endpoint;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct StreamState {
    len: [u64; 2],
    hash: [u64; 2],
    next_offset: [u64; 2],
    gaps: u64,
    /// (length, hash) of each direction up to its first hole: tshark's `follow` stops there,
    /// where phonehome marks the hole and goes on.
    before_gap: [Option<(u64, u64)>; 2],
    after_gap_bytes: u64,
}

impl Default for StreamState {
    fn default() -> Self {
        StreamState {
            len: [0; 2],
            hash: [FNV_OFFSET; 2],
            next_offset: [0; 2],
            gaps: 0,
            before_gap: [None; 2],
            after_gap_bytes: 0,
        }
    }
}

/// Per-direction lengths and hashes, and the number of gaps.
type StreamSums = ([u64; 2], [u64; 2], u64);
type Stream = (String, String, [u64; 2], [u64; 2], u64);

/// Every ended TCP flow: client, server, per-direction length and hash, gaps.
#[derive(Default)]
struct Collect {
    streams: Vec<Stream>,
    /// Bytes delivered after a hole, over all flows.
    after_gap_bytes: u64,
}

impl FlowHandler for Collect {
    type State = StreamState;

    fn on_payload(&mut self, _flow: &FlowInfo, s: &mut StreamState, dir: Direction, payload: Payload<'_>) {
        let d = dir.index();
        match payload {
            Payload::Stream(Chunk::Data { bytes, offset, .. }) => {
                assert_eq!(offset, s.next_offset[d], "chunks must be contiguous");
                s.next_offset[d] += bytes.len() as u64;
                s.len[d] += bytes.len() as u64;
                s.hash[d] = fnv(s.hash[d], bytes);
                if s.before_gap[d].is_some() {
                    s.after_gap_bytes += bytes.len() as u64;
                }
            }
            Payload::Stream(Chunk::Gap { offset, len }) => {
                assert_eq!(offset, s.next_offset[d], "gaps must be contiguous");
                s.next_offset[d] += len;
                s.gaps += 1;
                s.before_gap[d].get_or_insert((s.len[d], s.hash[d]));
            }
            Payload::Datagram { .. } => {}
        }
    }

    fn on_end(&mut self, flow: FlowInfo, s: StreamState, _reason: EndReason) {
        let f = &flow.flow_ref;
        if f.proto == phonehome_model::IpProto::TCP {
            // What tshark's follow shows: everything, or the part before the first hole.
            let [a, b] = [0, 1].map(|d| s.before_gap[d].unwrap_or((s.len[d], s.hash[d])));
            self.streams.push((
                endpoint(f.src_ip, f.src_port),
                endpoint(f.dest_ip, f.dest_port),
                [a.0, b.0],
                [a.1, b.1],
                s.gaps,
            ));
            self.after_gap_bytes += s.after_gap_bytes;
        }
    }
}

/// Compares every stream's bytes with tshark's; `expected_gaps` is the number of holes the
/// capture has. tshark's `follow,tcp,raw` stops at a hole it never sees filled, so a direction
/// with a hole is compared up to it. Returns the counters and the bytes delivered after holes.
fn check_with_gaps(capture: &str, expected_gaps: u64) -> (Counters, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let truth = std::fs::read_to_string(root.join("streams").join(format!("{capture}.tsv"))).unwrap();
    // Captures live in fixtures/captures, the README's example in examples/.
    let path = root.join("captures").join(capture);
    let path = if path.exists() { path } else { root.join("../examples").join(capture) };
    let (collect, counters) = phonehome_testkit::run(&path, Collect::default());

    // (client, server) -> the flows between them, in the order they ended.
    let mut ours: HashMap<(String, String), Vec<StreamSums>> = HashMap::new();
    for (c, s, len, hash, gaps) in &collect.streams {
        ours.entry((c.clone(), s.clone())).or_default().push((*len, *hash, *gaps));
    }
    let mut compared = 0;
    let mut total_gaps = 0;
    for line in truth.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (n0, n1) = (f[0].to_string(), f[1].to_string());
        let t01 = (f[2].parse::<u64>().unwrap(), u64::from_str_radix(f[3], 16).unwrap());
        let t10 = (f[4].parse::<u64>().unwrap(), u64::from_str_radix(f[5], 16).unwrap());
        // tshark's node 0 is whoever it saw first; ours is the side that started the flow.
        let (key, to_server, to_client) =
            if ours.contains_key(&(n0.clone(), n1.clone())) { ((n0, n1), t01, t10) } else { ((n1, n0), t10, t01) };
        let list = ours.get_mut(&key).unwrap_or_else(|| panic!("{capture}: no flow {key:?}"));
        assert!(!list.is_empty(), "{capture}: too few flows {key:?}");
        let (len, hash, gaps) = list.remove(0);
        total_gaps += gaps;
        assert_eq!((len[0], hash[0]), to_server, "{capture} {key:?}: client->server stream differs");
        assert_eq!((len[1], hash[1]), to_client, "{capture} {key:?}: server->client stream differs");
        compared += 1;
    }
    assert!(compared > 0);
    assert_eq!(total_gaps, expected_gaps, "{capture}: gaps");
    (counters, collect.after_gap_bytes)
}

fn check(capture: &str) {
    check_with_gaps(capture, 0);
}

#[test]
fn psiphon3_out_of_order_and_retransmissions() {
    check("ndpi__psiphon3.pcap");
}

#[test]
fn whatsapp_out_of_order() {
    check("ndpi__whatsapp_login_chat.pcap");
}

#[test]
fn ipv6_in_ipv4_tunnel_with_reordering() {
    check("ndpi__6in4tunnel.pcap");
}

#[test]
fn ajp_reordered() {
    check("ndpi__ajp.pcap");
}

#[test]
fn dnp3_many_retransmissions() {
    check("ndpi__dnp3.pcap");
}

#[test]
fn multiple_synack_different_seq() {
    check("ndpi__tls_multiple_synack_different_seq.pcapng");
}

#[test]
fn overlapping_retransmission_keeps_the_first_copy() {
    let (c, _) = check_with_gaps("zeek__tcp__qi_internet_SYNACK_curl_jsonip.pcap", 0);
    assert!(c.get(phonehome_model::Counter::TcpOverlap) > 0);
}

#[test]
fn holes_become_gaps_and_the_stream_goes_on() {
    let (c, after_gap) = check_with_gaps("1kxun.pcap", 1);
    assert!(c.get(phonehome_model::Counter::TcpGapBytes) > 0);
    assert!(after_gap > 90_000, "the stream goes on after the hole: {after_gap} bytes");
}

#[test]
fn flows_first_seen_mid_stream() {
    let (c, _) = check_with_gaps("ndpi__soap.pcap", 0);
    assert!(c.get(phonehome_model::Counter::TcpMidstream) > 0);
}
