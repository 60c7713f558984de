//! The progress bar on stderr: bytes read of the inputs' size, rate and time left. Drawn
//! only when stderr is a terminal (and not with `-q`), only once a run has taken a second,
//! at most ten times a second, and cleared at the end, so short runs, pipes and logs never
//! see it. Each input's reader is wrapped in a counting reader that adds to one shared
//! atomic; a small thread draws. The engine knows nothing of it.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use phonehome_model::event::Encoder;
use phonehome_model::{Event, EventSink};
use phonehome_report::text::human_bytes;

/// Nothing is drawn before a run has taken this long.
const DELAY: Duration = Duration::from_secs(1);
/// Time between redraws.
const TICK: Duration = Duration::from_millis(100);

struct Shared {
    label: String,
    names: Vec<String>,
    /// Sum of the inputs' file sizes, when every one has a size (not for stdin or a pipe).
    total: Option<u64>,
    done: AtomicU64,
    current: AtomicUsize,
    stop: AtomicBool,
}

/// A running progress bar (or nothing, when disabled).
pub struct Progress {
    shared: Option<Arc<Shared>>,
    thread: Option<JoinHandle<bool>>,
}

impl Progress {
    /// Starts the bar for reading `names` ("-" is stdin), unless stderr is not a terminal
    /// or `quiet`.
    pub fn start(label: &str, names: &[String], quiet: bool) -> Progress {
        if quiet || names.is_empty() || !std::io::stderr().is_terminal() {
            return Progress::off();
        }
        let total = names
            .iter()
            .map(|n| (n != "-").then(|| std::fs::metadata(n).ok().filter(|m| m.is_file()).map(|m| m.len())).flatten())
            .sum::<Option<u64>>();
        let shared = Arc::new(Shared {
            label: label.to_string(),
            names: names.to_vec(),
            total,
            done: AtomicU64::new(0),
            current: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("progress".into()).spawn(move || draw_loop(&s)).ok();
        Progress { shared: Some(shared), thread }
    }

    /// A bar that draws nothing.
    pub fn off() -> Progress {
        Progress { shared: None, thread: None }
    }

    /// `inner`, counted as the bytes of input number `n` (in the order given to `start`).
    pub fn reader(&self, n: usize, inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        match &self.shared {
            Some(s) => Box::new(Counting { inner, shared: s.clone(), n }),
            None => inner,
        }
    }

    /// Stops drawing and clears the line.
    pub fn end(mut self) {
        self.stop();
    }

    /// Stops drawing and clears the line (again: nothing).
    pub fn stop(&mut self) {
        if let (Some(s), Some(t)) = (&self.shared, self.thread.take()) {
            s.stop.store(true, Ordering::Relaxed);
            t.thread().unpark();
            if t.join().unwrap_or(false) {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        }
    }
}

/// A report sink whose `finish` first stops the bar, so the report written at the end of the
/// run never shares a terminal line with it. Everything else goes to the sink unchanged,
/// its encoder included (the threaded engine then has NDJSON serialised on its workers).
pub struct StopFirst<'a, S: ?Sized>(pub &'a mut Progress, pub &'a mut S);

impl<S: EventSink + ?Sized> EventSink for StopFirst<'_, S> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.1.event(event)
    }

    fn event_owned(&mut self, event: Event) -> std::io::Result<()> {
        self.1.event_owned(event)
    }

    fn encoder(&self) -> Option<Encoder> {
        self.1.encoder()
    }

    fn encoded(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.1.encoded(bytes)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.stop();
        self.1.finish()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Draws until stopped; returns whether anything was drawn.
fn draw_loop(s: &Shared) -> bool {
    let start = Instant::now();
    let mut drawn = false;
    while !s.stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(TICK);
        let elapsed = start.elapsed();
        if elapsed < DELAY || s.stop.load(Ordering::Relaxed) {
            continue;
        }
        let n = s.current.load(Ordering::Relaxed).min(s.names.len().saturating_sub(1));
        let text = line(
            &s.label,
            (n + 1, s.names.len(), &s.names[n]),
            s.done.load(Ordering::Relaxed),
            s.total,
            elapsed,
            width(),
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{text}\x1b[K");
        let _ = err.flush();
        drawn = true;
    }
    drawn
}

/// Columns of the terminal: `COLUMNS` when set (shells export it on request), else 80.
fn width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c| c >= 20).unwrap_or(80)
}

struct Counting {
    inner: Box<dyn Read + Send>,
    shared: Arc<Shared>,
    n: usize,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.inner.read(buf)?;
        self.shared.current.store(self.n, Ordering::Relaxed);
        self.shared.done.fetch_add(got as u64, Ordering::Relaxed);
        Ok(got)
    }
}

/// One line of the bar, at most `width - 1` characters:
/// `analyze [1/2] big.pcap [#####·····]  45%  1.2 GB/2.7 GB  85.0 MB/s  ETA 0:17`.
/// `input` is (number from 1, count, name); without a `total` there is no bar, percentage or
/// ETA, only what was read and the rate.
pub fn line(
    label: &str,
    input: (usize, usize, &str),
    done: u64,
    total: Option<u64>,
    elapsed: Duration,
    width: usize,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let total = total.filter(|&t| t > 0);
    let tail = match total {
        Some(t) => {
            let pct = (done.min(t) as f64 / t as f64 * 100.0).floor() as u64;
            let mut s = format!(" {pct:>3}%  {}/{}  {}/s", human_bytes(done), human_bytes(t), human_bytes(rate as u64));
            if rate >= 1.0 && done < t {
                s.push_str(&format!("  ETA {}", clock(((t - done) as f64 / rate).ceil() as u64)));
            }
            s
        }
        None => format!("  {} read  {}/s", human_bytes(done), human_bytes(rate as u64)),
    };
    let (n, count, name) = input;
    let head = if count > 1 { format!("{label} [{n}/{count}] ") } else { format!("{label} ") };
    let room = width.saturating_sub(1);
    // The name gets what the rest leaves; a bar (10 to 30 cells in " [" and "]") only when
    // the name still keeps 16 characters: the name says more than the bar.
    let free = room.saturating_sub(head.chars().count() + tail.chars().count());
    let bar = total.filter(|_| free >= 13 + 16);
    let name = shorten(name, if bar.is_some() { free - 13 } else { free }.max(8));
    let mut out = format!("{head}{name}");
    if let Some(t) = bar {
        let cells = room.saturating_sub(out.chars().count() + tail.chars().count() + 3).min(30);
        let full = ((done.min(t) as f64 / t as f64) * cells as f64).round() as usize;
        out.push_str(" [");
        out.extend(std::iter::repeat_n('#', full));
        out.extend(std::iter::repeat_n('-', cells - full));
        out.push(']');
    }
    out.push_str(&tail);
    // A very narrow terminal: cut rather than wrap.
    out.chars().take(room).collect()
}

/// `name`, cut from the left with `…` to `max` characters (the end of a path says most).
fn shorten(name: &str, max: usize) -> String {
    let n = name.chars().count();
    if n <= max {
        return name.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut s = String::from("…");
    s.extend(name.chars().skip(n - keep));
    s
}

/// `0:07`, `12:34`, `1:02:03`.
fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_with_a_total() {
        let l = line("analyze", (1, 1, "big.pcap"), 450_000_000, Some(1_000_000_000), Duration::from_secs(10), 100);
        assert_eq!(l, "analyze big.pcap [##############----------------]  45%  450.0 MB/1.0 GB  45.0 MB/s  ETA 0:13");
        assert!(l.chars().count() < 100);
        // Done: 100 %, no ETA.
        let l = line("analyze", (2, 3, "b.pcap"), 10, Some(10), Duration::from_secs(2), 80);
        assert!(l.starts_with("analyze [2/3] b.pcap [") && l.ends_with(" 100%  10 B/10 B  5 B/s"), "{l}");
    }

    #[test]
    fn a_line_without_a_total() {
        let l = line("analyze", (1, 1, "-"), 3_000_000, None, Duration::from_secs(2), 80);
        assert_eq!(l, "analyze -  3.0 MB read  1.5 MB/s");
    }

    #[test]
    fn long_names_and_narrow_terminals() {
        let name = "/very/long/path/to/some/capture/directory/of/the/user/phone-2024-01-01.pcapng";
        let l = line("analyze", (1, 1, name), 100_000, Some(1_000_000), Duration::from_secs(10), 70);
        assert!(l.chars().count() <= 69, "{l}");
        assert_eq!(l, "analyze …2024-01-01.pcapng  10%  100.0 kB/1.0 MB  10.0 kB/s  ETA 1:30", "no room for a bar");
        let l = line("analyze", (1, 1, name), 100_000, Some(1_000_000), Duration::from_secs(10), 100);
        assert!(l.chars().count() <= 99, "{l}");
        assert!(l.contains("…") && l.contains("phone-2024-01-01.pcapng [#---------]  10%"), "{l}");
        for w in [20, 30, 45] {
            let l = line("evidence", (3, 9, name), 500, Some(1000), Duration::from_secs(1), w);
            assert!(l.chars().count() < w, "{w}: {l}");
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(7), "0:07");
        assert_eq!(clock(754), "12:34");
        assert_eq!(clock(3723), "1:02:03");
    }
}
