//! Counters for everything the pipeline skipped, found odd, or cut short.
//!
//! One enum for all stages, so the `stats` event and docs/OUTPUT.md list every reason in one
//! place, and merging per-thread counters is an array sum. Stages increment with
//! `counters.add(Counter::X, 1)`: an array index, cheap enough for the hot path.

use std::fmt;

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($group:ident, $name:literal), )*) => {
        /// Something the pipeline counts: a reason for skipping input, an anomaly in the
        /// traffic, or a resource cap that was hit.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Counter {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Counter {
            /// Every counter, in declaration order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];
            /// Number of counters.
            pub const COUNT: usize = Counter::ALL.len();

            /// The key used in the `stats` event (snake_case, stable).
            pub fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }

            /// Which object of the `stats` event the counter belongs to.
            pub fn group(self) -> CounterGroup {
                match self { $(Counter::$variant => CounterGroup::$group,)* }
            }
        }
    };
}

counters! {
    // --- input that could not be used at all -------------------------------------------------
    /// A capture record whose link type phonehome does not decode.
    UnsupportedLinkType = (Skipped, "unsupported_link_type"),
    /// A link-layer header shorter than its fixed size (snaplen cut it, or corrupt).
    TruncatedLinkHeader = (Skipped, "truncated_link_header"),
    /// A frame whose network protocol is neither IPv4 nor IPv6 (ARP, LLDP, STP, ...).
    NonIpFrame = (Skipped, "non_ip"),
    /// An IP header that is truncated or inconsistent (bad version, header length...).
    MalformedIp = (Skipped, "malformed_ip"),
    /// A TCP or UDP header that is truncated or inconsistent.
    MalformedTransport = (Skipped, "malformed_transport"),
    /// IP payloads other than TCP, UDP and ICMP (ESP, OSPF, ...): counted, no flow.
    OtherIpProtocol = (Skipped, "other_ip_protocol"),
    /// Tunnels nested deeper than the decoder follows.
    TunnelTooDeep = (Skipped, "tunnel_too_deep"),
    /// A capture block of a type phonehome ignores (custom, unknown, statistics...).
    UnknownBlock = (Skipped, "unknown_block"),
    /// A pcapng packet naming an interface its section never declared.
    UndefinedInterface = (Skipped, "undefined_interface"),
    /// A pcapng Name Resolution or Decryption Secrets block whose contents overrun it.
    MalformedBlock = (Skipped, "malformed_block"),
    /// A packet whose captured length was cut by the snapshot length.
    SnapTruncated = (Anomaly, "snaplen_truncated"),
    /// A packet whose IP total length promises more bytes than the frame holds.
    IpLengthExceedsFrame = (Anomaly, "ip_length_exceeds_frame"),
    /// A PCAPdroid trailer with a bad CRC (the packet is used, the app name is not).
    PcapdroidBadTrailer = (Anomaly, "pcapdroid_bad_trailer"),

    // --- IP fragments ------------------------------------------------------------------------
    /// IP fragments received.
    Fragments = (Anomaly, "ip_fragments"),
    /// Datagrams rebuilt from fragments.
    Reassembled = (Anomaly, "ip_datagrams_reassembled"),
    /// Fragments that overlapped earlier ones (first copy kept).
    FragmentOverlap = (Anomaly, "ip_fragment_overlap"),
    /// Incomplete datagrams dropped after the fragment timeout.
    FragmentTimeout = (Anomaly, "ip_fragment_timeout"),
    /// Fragments dropped because a fragment cap was reached: bytes held
    /// (`--frag-buffer-total`), incomplete datagrams (`--max-frag-datagrams`), or 256
    /// fragments in one datagram.
    FragmentCap = (Cap, "ip_fragment_memory"),

    // --- TCP ---------------------------------------------------------------------------------
    /// TCP segments that repeated bytes already seen (full retransmissions).
    TcpRetransmission = (Anomaly, "tcp_retransmission"),
    /// TCP segments that arrived ahead of a hole and were held back.
    TcpOutOfOrder = (Anomaly, "tcp_out_of_order"),
    /// TCP segments that partly overlapped bytes already seen (first copy kept).
    TcpOverlap = (Anomaly, "tcp_overlap"),
    /// Holes in a TCP stream that were skipped (capture loss); the stream goes on after them.
    TcpGap = (Anomaly, "tcp_gap"),
    /// Bytes missing in those holes.
    TcpGapBytes = (Anomaly, "tcp_gap_bytes"),
    /// TCP flows first seen after their handshake.
    TcpMidstream = (Anomaly, "tcp_midstream"),
    /// A SYN that reused the ports of a closed or stale connection: a new flow was started.
    TcpPortReuse = (Anomaly, "tcp_port_reuse"),
    /// TCP segments that would have passed a flow's reassembly buffer cap; the stream skipped
    /// its oldest hole (counted as a gap) to make room.
    TcpFlowBufferCap = (Cap, "tcp_flow_buffer"),
    /// TCP segments that would have passed the reassembly budget of all flows together; the
    /// flow skipped its oldest hole (counted as a gap) to make room.
    TcpTotalBufferCap = (Cap, "tcp_total_buffer"),

    // --- flows -------------------------------------------------------------------------------
    /// Flows closed early because the live-flow cap was reached (least recently seen first).
    FlowEvicted = (Cap, "flow_table_eviction"),
    /// Flows ended by their idle timeout.
    FlowTimeout = (Anomaly, "flow_idle_timeout"),

    // --- application protocols ---------------------------------------------------------------
    /// TLS handshakes whose hello outgrew the handshake buffer (the hello was not parsed).
    TlsHandshakeCap = (Cap, "tls_handshake_buffer"),
    /// Streams that turned to TLS after a cleartext start (STARTTLS, CONNECT, SOCKS, PROXY).
    TlsAfterCleartext = (Anomaly, "tls_after_cleartext"),
    /// Unrecognised streams that turned to HTTP (after a SOCKS exchange, for instance).
    HttpAfterCleartext = (Anomaly, "http_after_cleartext"),
    /// DNS messages that reached a parser limit: more than 256 questions or
    /// `--max-dns-records` records (the rest were not read), or a name that followed more than
    /// `--max-dns-pointers` compression pointers (it was skipped). Their `dns` event lists
    /// `limit_reached`.
    DnsMessageLimit = (Cap, "dns_message_limit"),
    /// Times the table of names learnt from DNS answers reached `--max-dns-names` and was
    /// forgotten at once (later flows to those addresses go unnamed until asked again).
    DnsNamesTable = (Cap, "dns_names_table"),
    /// QUIC connections whose CRYPTO data outgrew its buffer (`--max-tls-handshake`, or 64
    /// out-of-order pieces); the hello may be lost.
    QuicCryptoCap = (Cap, "quic_crypto_buffer"),
    /// QUIC connections whose client Initials never decrypted (no hello read).
    QuicUndecryptable = (Anomaly, "quic_undecryptable"),
    /// HTTP heads longer than `--max-http-head` (dropped; parsing resynchronised after them).
    HttpHeadCap = (Cap, "http_head"),
    /// HTTP heads with more headers than `--max-http-headers` (the rest were not kept).
    HttpHeaderCountCap = (Cap, "http_header_count"),
    /// HTTP bodies cut at `--max-http-body` decoded bytes (decompression bombs stop here).
    HttpBodyCap = (Cap, "http_body"),
    /// HTTP bodies whose Content-Encoding could not be undone.
    HttpDecodeError = (Anomaly, "http_decode_error"),
    /// Stretches of non-HTTP bytes, or broken chunked framing, inside HTTP streams.
    HttpJunk = (Anomaly, "http_junk"),
    /// HTTP responses that answered no request seen (a capture starting mid-connection).
    HttpUnmatchedResponse = (Anomaly, "http_unmatched_response"),
    /// HTTP/2 frames that broke a rule (skipped), and directions whose framing a hole lost.
    H2FrameError = (Anomaly, "http2_frame_error"),
    /// HTTP/3 frames that broke a rule (skipped).
    H3FrameError = (Anomaly, "http3_frame_error"),
    /// HTTP/2 and HTTP/3 header blocks that could not be decoded, wholly or partly (HPACK or
    /// QPACK errors, blocks over the size cap, dynamic entries that never came).
    HttpHeaderBlockError = (Anomaly, "http_header_block_error"),
    /// Decrypted QUIC stream bytes that arrived too far ahead of a hole for the per-connection
    /// buffer: the stream skipped the hole (its message ends incomplete).
    QuicStreamBufferCap = (Cap, "quic_stream_buffer"),
    /// HTTP requests reported without waiting for their response because 64 requests of the
    /// connection were already waiting (the oldest goes first; a response that comes later is
    /// paired with a later request).
    HttpPendingRequests = (Cap, "http_pending_requests"),
    /// HTTP requests whose method the response parser could not remember, 1024 of the
    /// connection's being unanswered already: a response to a HEAD or CONNECT among them may
    /// be misframed.
    HttpPendingMethods = (Cap, "http_pending_methods"),
    /// QUIC connections whose Initial packets needed a fifth key set (more connection IDs or
    /// salts than a client uses); packets under further keys were not decrypted.
    QuicKeySets = (Cap, "quic_key_sets"),

    // --- capture files -----------------------------------------------------------------------
    /// Capture files that ended in the middle of a record.
    TruncatedFile = (Anomaly, "truncated_file"),
    /// Capture files in which reading stopped at a corrupt record.
    CorruptFile = (Anomaly, "corrupt_file"),
    /// Inputs that could not be read as a capture at all.
    UnreadableFile = (Skipped, "unreadable_file"),

    // --- link layers -------------------------------------------------------------------------
    /// IEEE 802.11 data frames with the Protected bit (WEP/WPA): their payload is encrypted.
    WlanProtected = (Skipped, "wlan_protected"),
    /// Identifier findings dropped: over the cap per scanned text or per stream direction
    /// (`--max-findings-per-flow`).
    FindingsCap = (Cap, "findings"),
    /// HAR entries skipped: not an object, no request, over the entry size or count cap.
    HarEntrySkipped = (Skipped, "har_entry_skipped"),
    /// HAR list items (headers, cookies, query or form parameters, WebSocket messages) dropped
    /// past 10 000 in their list; not searched.
    HarItems = (Cap, "har_items"),
    /// HAR pages past 10 000, not kept (pages carry no traffic; only their titles are lost).
    HarPages = (Cap, "har_pages"),
    /// Identifier scans whose decoding pre-passes (percent and JSON escapes) stopped at the
    /// budget of 1 MiB of escaped text per scanned text; what lies past it was searched as
    /// sent, not decoded.
    IdentifierDecoding = (Cap, "identifier_decoding"),
    /// Capture files in which reading stopped at a record (pcap packet or pcapng block) longer
    /// than `--max-capture-record`.
    CaptureRecord = (Cap, "capture_record"),
}

/// The three objects of the `stats` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterGroup {
    /// Input that was skipped, by reason.
    Skipped,
    /// Odd but handled traffic.
    Anomaly,
    /// Resource caps that were hit.
    Cap,
}

impl CounterGroup {
    /// The key of the group's object in the `stats` event.
    pub fn name(self) -> &'static str {
        match self {
            CounterGroup::Skipped => "skipped",
            CounterGroup::Anomaly => "anomalies",
            CounterGroup::Cap => "caps",
        }
    }
}

/// One value per [`Counter`].
#[derive(Clone, PartialEq, Eq)]
pub struct Counters([u64; Counter::COUNT]);

impl Default for Counters {
    fn default() -> Counters {
        Counters([0; Counter::COUNT])
    }
}

impl Counters {
    /// Adds `n` to `c`.
    #[inline]
    pub fn add(&mut self, c: Counter, n: u64) {
        self.0[c as usize] = self.0[c as usize].saturating_add(n);
    }

    /// The value of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }

    /// Adds every counter of `other` (merging per-thread or per-stage counters).
    pub fn merge(&mut self, other: &Counters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// Non-zero counters of one group, in declaration order.
    pub fn nonzero(&self, group: CounterGroup) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::ALL
            .iter()
            .copied()
            .filter(move |c| c.group() == group)
            .map(|c| (c, self.get(c)))
            .filter(|&(_, n)| n > 0)
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(Counter::ALL.iter().filter(|c| self.get(**c) > 0).map(|c| (c.name(), self.get(*c))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Counter::ALL {
            assert!(seen.insert(c.name()), "duplicate {}", c.name());
            assert!(c.name().bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()));
        }
    }

    #[test]
    fn merge_adds_and_nonzero_filters() {
        let mut a = Counters::default();
        let mut b = Counters::default();
        a.add(Counter::TcpGap, 2);
        b.add(Counter::TcpGap, 3);
        b.add(Counter::NonIpFrame, 1);
        a.merge(&b);
        assert_eq!(a.get(Counter::TcpGap), 5);
        let skipped: Vec<_> = a.nonzero(CounterGroup::Skipped).collect();
        assert_eq!(skipped, vec![(Counter::NonIpFrame, 1)]);
    }
}
