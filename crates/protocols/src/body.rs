//! HTTP body decoding (Content-Encoding), with output caps.
//!
//! A [`Decoder`] undoes the content codings of one body as its bytes arrive, in pieces of any
//! size, and never produces more than its limit: a decompression bomb (10 MB of zeros in 10 KB
//! of gzip) stops at the limit, having allocated no more than the limit plus the decoder's
//! own state, and is reported as [`Outcome::truncated`]. Corrupt data ends decoding with
//! [`Outcome::error`]; what decoded before the damage is kept, because a half-decoded JSON
//! body still carries the identifiers a device sent.
//!
//! Codings: `gzip` / `x-gzip` (several members in a row too), `deflate` (zlib-wrapped as RFC
//! 9110 says, or raw deflate as some servers send it: told apart by the zlib header check, as
//! browsers do), `br`, `zstd`, `identity`, and stacks of them (`Content-Encoding: gzip, br`
//! was gzipped first, so it is un-brotlied first). Lenient where real servers are wrong: a
//! `deflate` body that is really gzip is read as gzip, and a body labelled gzip or zstd
//! whose first bytes are not that format's magic number is passed through as it is (flagged
//! [`Outcome::raw_fallback`]): such servers mislabel plain text, and the text is what we want.
//!
//! Memory per decoder besides the output: flate2's inflate state (~40 KiB), brotli's window
//! (at most 16 MiB; large-window streams are refused), zstd's window (at most
//! [`ZSTD_MAX_WINDOW`], allocated when a frame starts) plus one compressed block (128 KiB).
//!
//! Not done: checksums (gzip CRC-32, zstd XXH64) are not verified, as a body's content matters
//! here and not its integrity; zstd dictionaries; `compress` (LZW), `exi`, `pack200-gzip`
//! (reported as unsupported codings, and the body is passed through as it is).

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};
use ruzstd::decoding::FrameDecoder;

/// A content coding we can undo (RFC 9110 §8.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip`, `x-gzip` (RFC 1952).
    Gzip,
    /// `deflate`: zlib (RFC 1950), or raw deflate (RFC 1951) as some servers send.
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Coding {
    /// The coding a Content-Encoding token names (case-insensitive, whitespace trimmed),
    /// `Ok(None)` for `identity` or an empty token, `Err(())` for a coding we cannot undo.
    #[allow(clippy::result_unit_err)]
    pub fn from_token(token: &[u8]) -> Result<Option<Coding>, ()> {
        let t = token.trim_ascii();
        let is = |name: &[u8]| t.eq_ignore_ascii_case(name);
        if is(b"gzip") || is(b"x-gzip") {
            Ok(Some(Coding::Gzip))
        } else if is(b"deflate") {
            Ok(Some(Coding::Deflate))
        } else if is(b"br") {
            Ok(Some(Coding::Brotli))
        } else if is(b"zstd") {
            Ok(Some(Coding::Zstd))
        } else if t.is_empty() || is(b"identity") {
            Ok(None)
        } else {
            Err(())
        }
    }
}

/// Most codings one body may stack. Real servers use one; a longer stack is refused
/// ([`Codings::unsupported`]) rather than decoded layer after layer.
pub const MAX_LAYERS: usize = 4;

/// The codings applied to a body, in the order they were applied (the order of the
/// Content-Encoding list, and of several Content-Encoding headers). `identity` is dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Codings {
    list: [Option<Coding>; MAX_LAYERS],
    len: u8,
    /// A coding we cannot undo was listed, or more than [`MAX_LAYERS`]: the body cannot be
    /// decoded and is passed on as it is.
    pub unsupported: bool,
}

impl Codings {
    /// The codings of one Content-Encoding value (`"gzip, br"`).
    pub fn parse(value: &[u8]) -> Codings {
        let mut c = Codings::default();
        c.add(value);
        c
    }

    /// Appends the codings of another Content-Encoding header of the same message.
    pub fn add(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',') {
            match Coding::from_token(token) {
                Ok(Some(coding)) => self.push(coding),
                Ok(None) => {}
                Err(()) => self.unsupported = true,
            }
        }
    }

    /// Appends one coding.
    pub fn push(&mut self, coding: Coding) {
        match self.list.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = Some(coding);
                self.len += 1;
            }
            None => self.unsupported = true,
        }
    }

    /// The codings, in the order they were applied.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Coding> + '_ {
        self.list[..usize::from(self.len)].iter().flatten().copied()
    }

    /// Whether nothing needs undoing (no coding, or only `identity`).
    pub fn is_identity(&self) -> bool {
        self.len == 0 && !self.unsupported
    }
}

/// How decoding ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The output reached the limit: what follows was not decoded (and its input was not
    /// looked at).
    pub truncated: bool,
    /// Corrupt data (or an unsupported feature: a zstd dictionary, a brotli large window):
    /// the output holds what decoded before it.
    pub error: bool,
    /// The input ended inside a compressed stream (the body was cut short). For zstd, the
    /// last window of output (up to the frame's window size) is then lost: the decoder keeps
    /// it for back-references until the frame ends.
    pub incomplete: bool,
    /// A body labelled gzip or zstd did not start with that format's magic number and was
    /// passed through unchanged (also flagged as `error`).
    pub raw_fallback: bool,
}

/// Largest zstd window accepted (RFC 9659 §3 caps HTTP's zstd windows at 8 MiB); a frame
/// asking for more is an error rather than a large allocation.
pub const ZSTD_MAX_WINDOW: u64 = 8 << 20;

/// Output produced per decompression call: the step at which the output limit is checked.
const STEP: usize = 32 << 10;

/// The output limit of a layer whose output is another layer's input. Real stacks (rare)
/// put a compressed stream inside another, which shrinks it no further, so the inner stream
/// is about as long as the body; a crafted stack can expand at every layer, and this bounds
/// what is held between two layers.
fn mid_limit(limit: usize) -> usize {
    limit.saturating_mul(4).max(256 << 10)
}

/// What one layer did with its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// All input consumed; more input is welcome.
    More,
    /// The output limit was reached while the layer had more to give.
    Full,
    /// The compressed stream ended; input after it is ignored.
    End,
    /// Corrupt data.
    Error,
}

/// Where a layer's output goes: at most `room` more bytes appended to `out`, produced
/// through `scratch` (so that no call zero-fills output space it may not use).
struct Sink<'a> {
    out: &'a mut Vec<u8>,
    room: &'a mut usize,
    scratch: &'a mut [u8],
}

impl Sink<'_> {
    /// Runs `f` on a window of the scratch buffer of at most `room + 1` bytes (and at most
    /// [`STEP`]), appending what it wrote to `out`. `f` returns (bytes written, its own
    /// result). The extra byte is a probe: a decoder that fills it had more output than the
    /// limit allows, which is `Full` (the first value returned); one that stops exactly at the
    /// limit is not truncated.
    fn produce<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> (bool, R) {
        let want = self.room.saturating_add(1).min(self.scratch.len());
        let (made, r) = f(&mut self.scratch[..want]);
        let made = made.min(want);
        let keep = made.min(*self.room);
        self.out.extend_from_slice(&self.scratch[..keep]);
        *self.room -= keep;
        (made > keep, r)
    }
}

/// Inflates `input` into `out`. Returns the input consumed and the step.
fn inflate(d: &mut Decompress, mut input: &[u8], sink: &mut Sink<'_>) -> (usize, Step) {
    let mut consumed = 0;
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let (full, r) = sink.produce(|buf| {
            let r = d.decompress(input, buf, FlushDecompress::None);
            ((d.total_out() - out0) as usize, r)
        });
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        input = &input[used..];
        consumed += used;
        if full {
            return (consumed, Step::Full);
        }
        match r {
            Err(_) => return (consumed, Step::Error),
            Ok(Status::StreamEnd) => return (consumed, Step::End),
            Ok(_) if used == 0 && made == 0 => return (consumed, Step::More),
            Ok(_) => {}
        }
    }
}

/// Whether two bytes start a zlib stream (RFC 1950 §2.2: method 8, window ≤ 32 KiB, header
/// check). Raw deflate rarely passes: its first block would have to be a stored block whose
/// length bytes happen to make the check.
fn is_zlib_header(b0: u8, b1: u8) -> bool {
    b0 & 0x0f == 8 && b0 >> 4 <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
}

/// Where a gzip stream is.
#[derive(Clone, Copy, Debug)]
enum Gz {
    /// In the fixed 10-byte header, at this byte.
    Fixed(u8),
    /// Reading the two-byte FEXTRA length (low byte in the second field once read).
    ExtraLen(u8, u16),
    /// Skipping this many FEXTRA bytes.
    Extra(u16),
    /// Skipping the zero-terminated file name.
    Name,
    /// Skipping the zero-terminated comment.
    Comment,
    /// Skipping this many header CRC bytes.
    Hcrc(u8),
    /// In the deflate data.
    Deflate,
    /// Skipping this many trailer bytes (CRC-32, ISIZE).
    Trailer(u8),
    /// Between members: another member may follow.
    Between,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

struct Gzip {
    at: Gz,
    flags: u8,
    inflate: Decompress,
}

impl Gzip {
    fn new() -> Gzip {
        Gzip { at: Gz::Fixed(0), flags: 0, inflate: Decompress::new(false) }
    }

    /// The header flags' next field after `done` (FEXTRA, FNAME, FCOMMENT, FHCRC in order).
    fn after(&self, done: u8) -> Gz {
        let order = [(FEXTRA, Gz::ExtraLen(0, 0)), (FNAME, Gz::Name), (FCOMMENT, Gz::Comment), (FHCRC, Gz::Hcrc(2))];
        let start = order.iter().position(|(f, _)| *f == done).map_or(0, |i| i + 1);
        order[start..].iter().find(|(f, _)| self.flags & f != 0).map_or(Gz::Deflate, |(_, at)| *at)
    }

    fn push(&mut self, mut input: &[u8], sink: &mut Sink<'_>) -> Step {
        // Header and trailer bytes are few: they are walked one at a time.
        while let Some(&b) = input.first() {
            if let Gz::Deflate = self.at {
                let (used, step) = inflate(&mut self.inflate, input, sink);
                input = &input[used..];
                match step {
                    Step::End => self.at = Gz::Trailer(8),
                    Step::More => return Step::More,
                    other => return other,
                }
                continue;
            }
            input = &input[1..];
            self.at = match self.at {
                Gz::Fixed(0) if b != 0x1f => return Step::Error,
                Gz::Fixed(1) if b != 0x8b => return Step::Error,
                Gz::Fixed(2) if b != 8 => return Step::Error,
                Gz::Fixed(3) if b & 0xe0 != 0 => return Step::Error,
                Gz::Fixed(3) => {
                    self.flags = b;
                    Gz::Fixed(4)
                }
                Gz::Fixed(9) => self.after(0),
                Gz::Fixed(i) => Gz::Fixed(i + 1),
                Gz::ExtraLen(0, _) => Gz::ExtraLen(1, u16::from(b)),
                Gz::ExtraLen(_, lo) => match lo | u16::from(b) << 8 {
                    0 => self.after(FEXTRA),
                    n => Gz::Extra(n),
                },
                Gz::Extra(1) => self.after(FEXTRA),
                Gz::Extra(n) => Gz::Extra(n - 1),
                Gz::Name if b == 0 => self.after(FNAME),
                Gz::Comment if b == 0 => self.after(FCOMMENT),
                at @ (Gz::Name | Gz::Comment) => at,
                Gz::Hcrc(1) => Gz::Deflate,
                Gz::Hcrc(n) => Gz::Hcrc(n - 1),
                Gz::Trailer(1) => Gz::Between,
                Gz::Trailer(n) => Gz::Trailer(n - 1),
                Gz::Between if b == 0x1f => {
                    // Another member (RFC 1952 §2.2: a gzip file is a series of members).
                    self.inflate.reset(false);
                    Gz::Fixed(1)
                }
                // Trailing garbage (zero padding is common): ignored, as gzip(1) does.
                Gz::Between => return Step::End,
                Gz::Deflate => unreachable!("handled above"),
            };
        }
        Step::More
    }

    fn ended(&self) -> bool {
        matches!(self.at, Gz::Between)
    }
}

/// Where a zstd stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Zs {
    /// At a frame boundary.
    Frame,
    /// In a frame's blocks; the frame has a 4-byte checksum after its last block.
    Blocks { checksum: bool },
    /// Skipping a skippable frame's remaining bytes.
    Skip(u32),
}

const ZSTD_MAGIC: u32 = 0xfd2f_b528;
/// A compressed block's largest content (RFC 8878 §3.1.1.2.4).
const ZSTD_MAX_BLOCK: usize = 128 << 10;

struct Zstd {
    frame: FrameDecoder,
    at: Zs,
    /// Input not yet decoded: less than one frame header or one block.
    pending: Vec<u8>,
    frames: u32,
}

impl Zstd {
    fn new() -> Zstd {
        let mut frame = FrameDecoder::new();
        frame.set_max_window_size(ZSTD_MAX_WINDOW);
        Zstd { frame, at: Zs::Frame, pending: Vec::new(), frames: 0 }
    }

    fn push(&mut self, input: &[u8], sink: &mut Sink<'_>) -> Step {
        // ruzstd decodes whole blocks from a slice; a block split across pushes waits in
        // `pending` (at most one block, 128 KiB). A block goes in alone, so that one call
        // never expands more than one block (an RLE block turns 4 bytes into 128 KiB).
        let mut pending = std::mem::take(&mut self.pending);
        let (step, used) = if pending.is_empty() {
            let (step, used) = self.run(input, sink);
            pending.extend_from_slice(&input[used.min(input.len())..]);
            (step, 0)
        } else {
            pending.extend_from_slice(input);
            self.run(&pending, sink)
        };
        pending.drain(..used.min(pending.len()));
        if step != Step::More {
            pending.clear();
        }
        self.pending = pending;
        step
    }

    /// Decodes what `src` completes; returns the step and the bytes of `src` used.
    fn run(&mut self, src: &[u8], sink: &mut Sink<'_>) -> (Step, usize) {
        let mut pos = 0;
        loop {
            let rest = &src[pos..];
            match self.at {
                Zs::Skip(n) => {
                    let k = rest.len().min(n as usize);
                    pos += k;
                    if k < n as usize {
                        self.at = Zs::Skip(n - k as u32);
                        return (Step::More, pos);
                    }
                    self.at = Zs::Frame;
                }
                Zs::Frame => {
                    let Some(magic) = rest.first_chunk::<4>().map(|m| u32::from_le_bytes(*m)) else {
                        return (Step::More, pos);
                    };
                    if (0x184d_2a50..=0x184d_2a5f).contains(&magic) {
                        let Some(size) = rest.get(4..8) else { return (Step::More, pos) };
                        self.at = Zs::Skip(u32::from_le_bytes(size.try_into().expect("4 bytes")));
                        pos += 8;
                        continue;
                    }
                    if magic != ZSTD_MAGIC {
                        // Garbage after a complete frame is ignored; instead of a frame, an error.
                        return (if self.frames > 0 { Step::End } else { Step::Error }, pos);
                    }
                    let Some(&fhd) = rest.get(4) else { return (Step::More, pos) };
                    let single_segment = fhd & 0x20 != 0;
                    let fcs = match fhd >> 6 {
                        0 => usize::from(single_segment),
                        1 => 2,
                        2 => 4,
                        _ => 8,
                    };
                    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
                    let header = 5 + usize::from(!single_segment) + dict + fcs;
                    let Some(h) = rest.get(..header) else { return (Step::More, pos) };
                    if self.frame.reset(h).is_err() {
                        return (Step::Error, pos);
                    }
                    pos += header;
                    self.at = Zs::Blocks { checksum: fhd & 0x04 != 0 };
                }
                Zs::Blocks { checksum } => {
                    let Some(bh) = rest.first_chunk::<3>() else { return (Step::More, pos) };
                    let bh = u32::from(bh[0]) | u32::from(bh[1]) << 8 | u32::from(bh[2]) << 16;
                    let last = bh & 1 != 0;
                    let size = (bh >> 3) as usize;
                    let content = match (bh >> 1) & 3 {
                        1 => 1, // RLE: one byte, repeated `size` times
                        3 => return (Step::Error, pos),
                        _ => size,
                    };
                    if size > ZSTD_MAX_BLOCK {
                        return (Step::Error, pos);
                    }
                    let need = 3 + content + if last && checksum { 4 } else { 0 };
                    let Some(block) = rest.get(..need) else { return (Step::More, pos) };
                    match self.frame.decode_from_to(block, &mut []) {
                        Ok((read, _)) if read == need => {}
                        _ => return (Step::Error, pos),
                    }
                    pos += need;
                    if self.drain(sink) {
                        return (Step::Full, pos);
                    }
                    if last {
                        self.frames += 1;
                        self.at = Zs::Frame;
                    }
                }
            }
        }
    }

    /// Moves decoded bytes the decoder can let go of into `out`; true when the limit is hit.
    fn drain(&mut self, sink: &mut Sink<'_>) -> bool {
        loop {
            let (full, made) = sink.produce(|buf| {
                let n = std::io::Read::read(&mut self.frame, buf).unwrap_or(0);
                (n, n)
            });
            if full {
                return true;
            }
            if made == 0 {
                return false;
            }
        }
    }

    fn ended(&self) -> bool {
        self.at == Zs::Frame && self.frames > 0 && self.pending.is_empty()
    }
}

type Brotli = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

fn brotli(state: &mut Brotli, input: &[u8], sink: &mut Sink<'_>) -> Step {
    let mut in_off = 0;
    loop {
        let mut avail_in = input.len() - in_off;
        let (full, r) = sink.produce(|buf| {
            let (mut avail_out, mut out_off, mut total) = (buf.len(), 0, 0);
            let r = BrotliDecompressStream(
                &mut avail_in,
                &mut in_off,
                input,
                &mut avail_out,
                &mut out_off,
                buf,
                &mut total,
                state,
            );
            (out_off, r)
        });
        if full {
            return Step::Full;
        }
        match r {
            BrotliResult::ResultSuccess => return Step::End,
            BrotliResult::NeedsMoreInput => return Step::More,
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::ResultFailure => return Step::Error,
        }
    }
}

/// One layer of decoding.
enum Layer {
    /// The first bytes decide what this layer is (zlib or raw deflate; gzip or not).
    Sniff {
        coding: Coding,
        seen: [u8; 2],
        len: u8,
    },
    /// Passed through (a mislabelled body).
    Identity,
    Inflate(Box<Decompress>),
    Gzip(Box<Gzip>),
    Brotli(Box<Brotli>),
    Zstd(Box<Zstd>),
}

impl Layer {
    fn push(&mut self, input: &[u8], sink: &mut Sink<'_>, raw_fallback: &mut bool) -> Step {
        match self {
            Layer::Sniff { coding, seen, len } => {
                // Two bytes decide; they may come one push at a time.
                let (held, held_len) = (*seen, usize::from(*len));
                let mut head = held;
                let mut n = held_len;
                for &b in input.iter().take(2 - n) {
                    head[n] = b;
                    n += 1;
                }
                if n < 2 {
                    *seen = head;
                    *len = n as u8;
                    return Step::More;
                }
                let gzip = head == [0x1f, 0x8b];
                *self = match *coding {
                    Coding::Deflate if gzip => Layer::Gzip(Box::new(Gzip::new())),
                    Coding::Deflate => Layer::Inflate(Box::new(Decompress::new(is_zlib_header(head[0], head[1])))),
                    Coding::Gzip if gzip => Layer::Gzip(Box::new(Gzip::new())),
                    // A zstd frame, or a skippable frame (magic 0x184d2a5?, little-endian).
                    Coding::Zstd if head == [0x28, 0xb5] || (head[0] & 0xf0 == 0x50 && head[1] == 0x2a) => {
                        Layer::Zstd(Box::new(Zstd::new()))
                    }
                    // Brotli has no magic number. `new_strict` refuses large-window streams,
                    // which could ask for a 1 GiB window.
                    Coding::Brotli => Layer::Brotli(Box::new(Brotli::new_strict(
                        StandardAlloc::default(),
                        StandardAlloc::default(),
                        StandardAlloc::default(),
                    ))),
                    _ => {
                        *raw_fallback = true;
                        Layer::Identity
                    }
                };
                // Replay the byte held from an earlier push, then this push's bytes.
                if held_len > 0 {
                    let step = self.push(&held[..held_len], sink, raw_fallback);
                    if step != Step::More {
                        return step;
                    }
                }
                self.push(input, sink, raw_fallback)
            }
            Layer::Identity => {
                let take = input.len().min(*sink.room);
                sink.out.extend_from_slice(&input[..take]);
                *sink.room -= take;
                if take < input.len() { Step::Full } else { Step::More }
            }
            Layer::Inflate(d) => inflate(d, input, sink).1,
            Layer::Gzip(g) => g.push(input, sink),
            Layer::Brotli(b) => brotli(b, input, sink),
            Layer::Zstd(z) => z.push(input, sink),
        }
    }

    /// Whether the compressed stream ended properly (for `Outcome::incomplete`).
    fn ended(&self) -> bool {
        match self {
            Layer::Sniff { len, .. } => *len == 0,
            Layer::Identity => true,
            Layer::Inflate(_) | Layer::Brotli(_) => false,
            Layer::Gzip(g) => g.ended(),
            Layer::Zstd(z) => z.ended(),
        }
    }
}

/// _Boxed_ from HTTP's point of view: dropping it frees everything a body's decoding held.
///
/// Feed it a body's bytes with [`push`](Decoder::push) (pieces of any size) and close it with
/// [`finish`](Decoder::finish). The output is appended to the caller's `Vec`, which lets
/// the caller reuse one buffer for many bodies; at most `limit` bytes are appended over the
/// decoder's life.
pub struct Decoder {
    /// In decoding order: the last coding applied comes first.
    layers: Vec<Layer>,
    /// `ended[i]`: layer i's stream ended; input for it is ignored.
    ended: Vec<bool>,
    /// Intermediate output of every layer but the last, reused between pushes.
    mids: Vec<Vec<u8>>,
    /// Output still allowed per layer. Intermediate layers get [`mid_limit`]: their output is
    /// held between layers, so it needs a bound too.
    rooms: Vec<usize>,
    /// Decoders write here first, then into the output (see [`Sink`]); allocated on the
    /// first push.
    scratch: Vec<u8>,
    outcome: Outcome,
    done: bool,
}

impl Decoder {
    /// A decoder undoing `codings` (in the order they were applied), producing at most
    /// `limit` bytes. Unsupported codings make a decoder that passes its input through
    /// unchanged with `error` set; check [`Codings::unsupported`] first to handle them otherwise.
    pub fn new(codings: &Codings, limit: usize) -> Decoder {
        let mut layers: Vec<Layer> = Vec::new();
        let mut outcome = Outcome::default();
        if codings.unsupported {
            outcome.error = true;
        } else {
            layers.extend(codings.iter().rev().map(|coding| Layer::Sniff { coding, seen: [0; 2], len: 0 }));
        }
        if layers.is_empty() {
            layers.push(Layer::Identity);
        }
        let n = layers.len();
        Decoder {
            layers,
            ended: vec![false; n],
            mids: (1..n).map(|_| Vec::new()).collect(),
            rooms: (0..n).map(|i| if i + 1 == n { limit } else { mid_limit(limit) }).collect(),
            scratch: Vec::new(),
            outcome,
            done: false,
        }
    }

    /// Whether more input would be ignored: the limit was reached, the data was corrupt, or
    /// every compressed stream ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes the next piece of the body, appending output to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.done || input.is_empty() {
            return;
        }
        if self.scratch.is_empty() {
            self.scratch = vec![0; STEP];
        }
        let n = self.layers.len();
        let mut mids = std::mem::take(&mut self.mids);
        let mut stop = false;
        for i in 0..n {
            if self.ended[i] {
                // A finished stream: what follows it is ignored (trailing garbage).
                if i == 0 {
                    stop = true;
                }
                break;
            }
            let (before, after) = mids.split_at_mut(i);
            let src: &[u8] = if i == 0 { input } else { &before[i - 1] };
            if src.is_empty() {
                break;
            }
            let dst: &mut Vec<u8> = if i + 1 == n { out } else { &mut after[0] };
            let mut sink = Sink { out: dst, room: &mut self.rooms[i], scratch: &mut self.scratch };
            let step = self.layers[i].push(src, &mut sink, &mut self.outcome.raw_fallback);
            if i > 0 {
                before[i - 1].clear();
            }
            // A layer that stops (limit, corrupt data) still hands what it produced before
            // to the next one: the output must not depend on how the input was cut.
            match step {
                Step::More => {}
                Step::End => self.ended[i] = true,
                Step::Full => {
                    self.outcome.truncated = true;
                    stop = true;
                }
                Step::Error => {
                    self.outcome.error = true;
                    stop = true;
                }
            }
        }
        self.done |= stop;
        for m in &mut mids {
            m.clear();
        }
        self.mids = mids;
        if self.outcome.raw_fallback {
            self.outcome.error = true;
        }
    }

    /// The body ended: reports how decoding went. `incomplete` is set when a compressed
    /// stream had not ended (unless decoding had stopped at the limit or an error before).
    pub fn finish(&mut self) -> Outcome {
        self.done = true;
        let mut o = self.outcome;
        if !o.truncated && !o.error {
            o.incomplete = self.layers.iter().zip(&self.ended).any(|(l, &e)| !e && !l.ended());
        }
        o
    }
}

/// Decodes a whole body in one call, appending at most `limit` bytes to `out`.
pub fn decode(codings: &Codings, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Outcome {
    let mut d = Decoder::new(codings, limit);
    d.push(input, out);
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn text() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..2000 {
            writeln!(v, "{{\"device_id\":\"abc{i}\",\"gaid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}}").unwrap();
        }
        v
    }

    /// Decodes `input` in one push, in pieces of every size from 1 to 7 bytes, and in halves,
    /// and checks that all agree.
    fn dec(codings: &str, input: &[u8], limit: usize) -> (Vec<u8>, Outcome) {
        let c = Codings::parse(codings.as_bytes());
        let mut whole = Vec::new();
        let o = decode(&c, input, limit, &mut whole);
        for size in (1..8).chain([input.len() / 2 + 1]) {
            let mut d = Decoder::new(&c, limit);
            let mut out = Vec::new();
            for piece in input.chunks(size) {
                d.push(piece, &mut out);
            }
            assert_eq!((&out, d.finish()), (&whole, o), "{codings} in pieces of {size}");
        }
        (whole, o)
    }

    #[test]
    fn codings_parse_in_order() {
        let c = Codings::parse(b"gzip, BR");
        assert_eq!(c.iter().collect::<Vec<_>>(), [Coding::Gzip, Coding::Brotli]);
        let mut c = Codings::parse(b" identity ");
        assert!(c.is_identity());
        c.add(b"x-gzip");
        assert_eq!(c.iter().collect::<Vec<_>>(), [Coding::Gzip]);
        assert!(Codings::parse(b"compress").unsupported);
        assert!(Codings::parse(b"gzip,gzip,gzip,gzip,gzip").unsupported);
    }

    #[test]
    fn identity_passes_through_up_to_the_limit() {
        assert_eq!(dec("", b"hello", 100), (b"hello".to_vec(), Outcome::default()));
        let (out, o) = dec("identity", b"hello", 3);
        assert_eq!(out, b"hel");
        assert!(o.truncated);
        // Exactly at the limit is not truncated.
        assert_eq!(dec("", b"hello", 5).1, Outcome::default());
    }

    #[test]
    fn gzip_and_x_gzip() {
        let t = text();
        let z = gzip(&t);
        assert_eq!(dec("gzip", &z, 1 << 20), (t.clone(), Outcome::default()));
        assert_eq!(dec("x-gzip", &z, 1 << 20), (t.clone(), Outcome::default()));
        // Exactly at the limit.
        assert_eq!(dec("gzip", &z, t.len()), (t.clone(), Outcome::default()));
        let (out, o) = dec("gzip", &z, t.len() - 1);
        assert_eq!(out, t[..t.len() - 1]);
        assert!(o.truncated && !o.error);
    }

    #[test]
    fn gzip_header_fields_and_several_members() {
        // FEXTRA, FNAME, FCOMMENT and FHCRC, then a second member, then zero padding.
        let mut z = gzip(b"first ");
        let plain = z.clone();
        z[3] = FEXTRA | FNAME | FCOMMENT | FHCRC;
        let mut with = z[..10].to_vec();
        with.extend([3, 0, b'a', b'b', b'c']);
        with.extend(b"name.txt\0comment\0");
        with.extend([0xaa, 0xbb]);
        with.extend(&plain[10..]);
        with.extend(gzip(b"second"));
        with.extend([0, 0, 0, 0]);
        assert_eq!(dec("gzip", &with, 100), (b"first second".to_vec(), Outcome::default()));
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let t = text();
        assert_eq!(dec("deflate", &zlib(&t), 1 << 20), (t.clone(), Outcome::default()));
        assert_eq!(dec("deflate", &raw_deflate(&t), 1 << 20), (t.clone(), Outcome::default()));
        // A "deflate" body that is really gzip.
        assert_eq!(dec("deflate", &gzip(&t), 1 << 20), (t.clone(), Outcome::default()));
        // Tiny bodies: the two sniffed bytes may be the whole stream.
        assert_eq!(dec("deflate", &raw_deflate(b""), 10), (Vec::new(), Outcome::default()));
        assert_eq!(dec("deflate", &zlib(b"a"), 10), (b"a".to_vec(), Outcome::default()));
    }

    #[test]
    fn brotli() {
        // `brotli.compress(b"hello hello hello brotli")` (Python brotli 1.2).
        let br = [
            0x1b, 0x17, 0x00, 0xf8, 0x8d, 0x94, 0x6e, 0xde, 0x44, 0x55, 0x86, 0xd6, 0x6c, 0x20, 0x69, 0x6f, 0xd3, 0x10,
            0x49, 0xe2, 0xa9, 0x03, 0x56, 0x9a, 0x78, 0xb4, 0x68, 0x06,
        ];
        assert_eq!(dec("br", &br, 100), (b"hello hello hello brotli".to_vec(), Outcome::default()));
        let (out, o) = dec("br", &br, 5);
        assert_eq!((out.as_slice(), o.truncated), (&b"hello"[..], true));
        let (out, o) = dec("br", &br[..10], 100);
        assert!(o.incomplete && !o.error, "{o:?}");
        assert!(b"hello hello".starts_with(&out));
    }

    /// Python: `brotli.compress(b"".join(b'{"device_id":"abc%d"}\n' % i for i in range(300)))`.
    const BR_JSON: [u8; 372] = [
        0x1b, 0x85, 0x1a, 0x20, 0x9c, 0x07, 0x76, 0x0c, 0x99, 0x06, 0x22, 0x2c, 0xe0, 0xf4, 0xae, 0xfb, 0x6a, 0x05,
        0x9d, 0xb4, 0x3d, 0xf9, 0x15, 0xd6, 0xa7, 0xe2, 0x21, 0xf9, 0x80, 0x9a, 0xd7, 0x63, 0xbc, 0x12, 0x23, 0xa3,
        0x7a, 0xb8, 0x67, 0x00, 0xb0, 0x63, 0xef, 0xf0, 0x1b, 0x05, 0x9c, 0x5a, 0x01, 0x06, 0x46, 0xc1, 0x44, 0x8e,
        0xa2, 0xf8, 0xf2, 0xf5, 0xfe, 0x7d, 0xff, 0x5f, 0x9f, 0x2f, 0xbf, 0xde, 0xec, 0x89, 0x64, 0x2a, 0x9d, 0xc9,
        0xce, 0xc9, 0xcd, 0xfb, 0x02, 0x55, 0x9f, 0x61, 0xb3, 0xd5, 0xee, 0x74, 0xf7, 0xf4, 0xe6, 0xdd, 0xac, 0x46,
        0xb3, 0xd5, 0xee, 0x74, 0xf7, 0xf4, 0xe6, 0xdd, 0xaa, 0x46, 0xb3, 0xd5, 0xee, 0x74, 0xf7, 0xf4, 0xe6, 0xdd,
        0xae, 0x46, 0xb3, 0xd5, 0xee, 0x74, 0xf7, 0xf4, 0xe6, 0xdd, 0xa9, 0x46, 0xb3, 0xd5, 0xee, 0x74, 0xf7, 0xf4,
        0xe6, 0xdd, 0x5d, 0x8d, 0x66, 0xab, 0xdd, 0xe9, 0xee, 0xe9, 0xcd, 0xbb, 0xa7, 0x1a, 0xcd, 0x56, 0xbb, 0xd3,
        0xdd, 0xd3, 0x9b, 0x77, 0x6f, 0x35, 0x9a, 0xad, 0x76, 0xa7, 0xbb, 0xa7, 0x37, 0xef, 0xbe, 0x6a, 0x34, 0x5b,
        0xed, 0x4e, 0x77, 0x4f, 0x6f, 0xde, 0x0f, 0xa8, 0x02, 0x00, 0x04, 0x81, 0x21, 0xd0, 0x30, 0xb0, 0x7d, 0x03,
        0x0a, 0x00, 0x04, 0x81, 0x21, 0xd0, 0x30, 0xb0, 0x7d, 0x03, 0x0b, 0x00, 0x04, 0x81, 0x21, 0xd0, 0x30, 0xb0,
        0x7d, 0x83, 0x0a, 0x00, 0x04, 0x81, 0x21, 0xd0, 0x30, 0xb0, 0x7d, 0x83, 0x0b, 0x00, 0x04, 0x81, 0x21, 0xd0,
        0x30, 0xb0, 0x7d, 0x43, 0x0a, 0x00, 0x04, 0x81, 0x21, 0xd0, 0x30, 0xb0, 0x7d, 0x43, 0x17, 0x00, 0x08, 0x02,
        0x43, 0xa0, 0x61, 0x60, 0xfb, 0x86, 0x29, 0x00, 0x10, 0x04, 0x86, 0x40, 0xc3, 0xc0, 0xf6, 0x0d, 0x5b, 0x00,
        0x20, 0x08, 0x0c, 0x81, 0x86, 0x81, 0xed, 0x1b, 0xae, 0x00, 0x40, 0x10, 0x18, 0x02, 0x0d, 0x03, 0x9b, 0xf7,
        0x80, 0x55, 0x00, 0x20, 0x08, 0x0c, 0x81, 0x86, 0x81, 0xed, 0x1b, 0x50, 0x00, 0x20, 0x08, 0x0c, 0x81, 0x86,
        0x81, 0xed, 0x1b, 0x58, 0x00, 0x20, 0x08, 0x0c, 0x81, 0x86, 0x81, 0xed, 0x1b, 0x54, 0x00, 0x20, 0x08, 0x0c,
        0x81, 0x86, 0x81, 0xed, 0x1b, 0x5c, 0x00, 0x20, 0x08, 0x0c, 0x81, 0x86, 0x81, 0xed, 0x1b, 0x52, 0x00, 0x20,
        0x08, 0x0c, 0x81, 0x86, 0x81, 0xed, 0x1b, 0xba, 0x00, 0x40, 0x10, 0x18, 0x02, 0x0d, 0x03, 0xdb, 0x37, 0x4c,
        0x01, 0x80, 0x20, 0x30, 0x04, 0x1a, 0x06, 0xb6, 0x6f, 0xd8, 0x02, 0x00, 0x41, 0x60, 0x08, 0x34, 0x0c, 0x6c,
        0xdf, 0x70, 0x05, 0x00, 0x82, 0xc0, 0x10, 0x68, 0x18, 0xd8, 0x57, 0x28,
    ];

    #[test]
    fn brotli_text_and_bomb() {
        let want: String = (0..300).map(|i| format!("{{\"device_id\":\"abc{i}\"}}\n")).collect();
        assert_eq!(dec("br", &BR_JSON, 1 << 20), (want.into_bytes(), Outcome::default()));
        // Python: `brotli.compress(bytes(10_000_000))`, 27 bytes for 10 MB.
        let bomb = [
            0xcb, 0xff, 0xff, 0x3f, 0xf8, 0x27, 0x00, 0xe2, 0xb1, 0x40, 0x20, 0xf7, 0xfe, 0x2f, 0xff, 0x2c, 0x31, 0xf0,
            0x4f, 0x00, 0xc4, 0x61, 0x11, 0x80, 0x8e, 0x23, 0x06,
        ];
        let (out, o) = dec("br", &bomb, 1 << 20);
        assert_eq!((out.len(), o.truncated, o.error), (1 << 20, true, false));
    }

    #[test]
    fn zstd_frames() {
        let t = text();
        let z = zstd(&t);
        assert_eq!(dec("zstd", &z, 1 << 20), (t.clone(), Outcome::default()));
        // Two frames with a skippable frame between them.
        let mut two = zstd(b"one ");
        two.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        two.extend(zstd(b"two"));
        assert_eq!(dec("zstd", &two, 100), (b"one two".to_vec(), Outcome::default()));
        let (out, o) = dec("zstd", &z, 1000);
        assert_eq!((out.as_slice(), o.truncated), (&t[..1000], true));
    }

    #[test]
    fn zstd_from_the_reference_encoder() {
        // `printf 'phonehome zstd %.0s' $(seq 40) | zstd -19 --check` (zstd 1.5): a frame
        // with a content checksum and no content size.
        let z = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0xb5, 0x00, 0x00, 0x78, 0x70, 0x68, 0x6f, 0x6e, 0x65, 0x68, 0x6f, 0x6d,
            0x65, 0x20, 0x7a, 0x73, 0x74, 0x64, 0x20, 0x01, 0x00, 0x46, 0xa4, 0x9a, 0x75, 0xb2, 0xfa, 0x08, 0xa9,
        ];
        let want = "phonehome zstd ".repeat(40);
        let (out, o) = dec("zstd", &z, 1000);
        assert_eq!((String::from_utf8_lossy(&out), o), (want.as_str().into(), Outcome::default()));
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        // "gzip, zstd": gzipped first, then zstd.
        let t = text();
        let z = zstd(&gzip(&t));
        assert_eq!(dec("gzip, zstd", &z, 1 << 20), (t.clone(), Outcome::default()));
        // Two Content-Encoding headers mean the same as one list.
        let mut c = Codings::parse(b"deflate");
        c.add(b"gzip");
        let mut out = Vec::new();
        assert_eq!(decode(&c, &gzip(&zlib(&t)), 1 << 20, &mut out), Outcome::default());
        assert_eq!(out, t);
        let (out, o) = dec("gzip, zstd", &z, 100);
        assert_eq!((out.as_slice(), o.truncated), (&t[..100], true));
    }

    #[test]
    fn corrupt_data_keeps_what_decoded_before() {
        // A raw deflate stream cut by a sync flush (byte-aligned), then a block of the
        // reserved type 3 (BFINAL=1, BTYPE=11: 0x07).
        let t = text();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&t).unwrap();
        e.flush().unwrap();
        let mut z = e.get_ref().clone();
        z.extend([0x07, 0xff, 0xff, 0xff]);
        let (out, o) = dec("deflate", &z, 1 << 20);
        assert!(o.error && !o.truncated, "{o:?}");
        assert_eq!(out, t);
        // The same inside a gzip member.
        let mut g = gzip(b"")[..10].to_vec();
        g.extend(&z);
        let (out, o) = dec("gzip", &g, 1 << 20);
        assert!(o.error && out == t, "{o:?}");
        // zstd: a raw block "abc", then a block of the reserved type 3. The decoder holds
        // back the last window of output until a frame ends, so nothing comes out here.
        let z = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0x18, 0, 0, b'a', b'b', b'c', 0x07, 0, 0];
        let (out, o) = dec("zstd", &z, 100);
        assert!(o.error && out.is_empty(), "{o:?}");
        assert!(dec("zstd", &z[..12], 100).1.incomplete);
    }

    #[test]
    fn cut_streams_are_incomplete() {
        let t = text();
        for (name, z) in [("gzip", gzip(&t)), ("deflate", zlib(&t)), ("zstd", zstd(&t))] {
            let (out, o) = dec(name, &z[..z.len() - 10], 1 << 20);
            assert!(o.incomplete && !o.error, "{name}: {o:?}");
            assert!(t.starts_with(&out), "{name}");
        }
    }

    #[test]
    fn mislabelled_plain_text_passes_through() {
        let (out, o) = dec("gzip", b"{\"plain\": true}", 100);
        assert_eq!(out, b"{\"plain\": true}");
        assert!(o.raw_fallback && o.error);
        // Unsupported codings pass through too, flagged.
        let (out, o) = dec("compress", b"abc", 100);
        assert_eq!((out.as_slice(), o.error), (&b"abc"[..], true));
    }

    #[test]
    fn stacked_output_before_an_outer_error_is_kept() {
        // Regression (fuzz, http_body): a stacked body whose outer layer breaks after it has
        // produced the inner stream. Decoded in one push, what the outer layer produced in
        // that push was dropped with the error; in pieces it was decoded. Here "gzip, deflate":
        // raw deflate of the gzip stream, sync-flushed, then a block of the reserved type.
        let t = text();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&gzip(&t[..200])).unwrap();
        e.flush().unwrap();
        let mut z = e.get_ref().clone();
        z.extend([0x07, 0xff]);
        let (out, o) = dec("gzip, deflate", &z, 1 << 20);
        assert!(o.error, "{o:?}");
        assert_eq!(out, t[..200]);
    }

    #[test]
    fn garbage_after_a_stream_is_ignored() {
        let mut z = zlib(b"abc");
        z.extend(b"junk");
        assert_eq!(dec("deflate", &z, 100), (b"abc".to_vec(), Outcome::default()));
        let mut z = zstd(b"abc");
        z.extend(b"junk");
        assert_eq!(dec("zstd", &z, 100), (b"abc".to_vec(), Outcome::default()));
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        // 10 MB of zeros: gzip makes ~10 KB of it (a ratio of ~1000), zstd and a gzip of the
        // gzip far less. Each must stop at the 1 MiB limit, having produced no more, and
        // without reading the rest of its input.
        let zeros = vec![0u8; 10_000_000];
        let gz = gzip(&zeros);
        assert!(gz.len() < 12_000, "{}", gz.len());
        let bombs =
            [("gzip", gz.clone()), ("deflate", zlib(&zeros)), ("zstd", zstd(&zeros)), ("gzip, gzip", gzip(&gz))];
        for (name, bomb) in bombs {
            let c = Codings::parse(name.as_bytes());
            let mut d = Decoder::new(&c, 1 << 20);
            let mut out = Vec::new();
            for piece in bomb.chunks(1024) {
                d.push(piece, &mut out);
                assert!(out.len() <= 1 << 20);
                if d.is_done() {
                    break;
                }
            }
            assert!(d.is_done(), "{name}");
            let o = d.finish();
            assert!(o.truncated && !o.error, "{name}: {o:?}");
            assert_eq!(out.len(), 1 << 20, "{name}");
            // Output capacity never grew far past the limit (one step of slack).
            assert!(out.capacity() <= (1 << 21), "{name}: {}", out.capacity());
        }
    }
}
