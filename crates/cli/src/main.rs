//! `phonehome`: what does this device send, to whom, and where? The binary only parses
//! arguments and wires the engine to a report sink; everything else lives in the crates.
#![forbid(unsafe_code)]

mod evidence;
mod progress;

use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use phonehome_attribute::domain::{DomainDb, Format as ListFormat, ListSource};
use phonehome_attribute::ip::IpDb;
use phonehome_detect::{DeclaredId, Options, Profile};
use phonehome_engine::{Attribution, Config, Detection, Input};
use phonehome_model::EventSink;
use phonehome_model::event::Tee;
use phonehome_report::diff::Diff;
use phonehome_report::policy::Policy;
use phonehome_report::summary::SummaryBuilder;
use phonehome_report::text::Detail;
use phonehome_report::{CsvSink, HtmlReport, JsonReport, NdjsonSink, Report, Style, TextSummary};

use crate::evidence::Evidence;
use crate::progress::{Progress, StopFirst};

/// With the `mimalloc` feature, mimalloc replaces the system allocator (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (docs/OUTPUT.md): 0 success, 1 a policy violated (`check`), 2 nothing
/// readable or a usage error.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "phonehome",
    version,
    about = "What does this device send, to whom, and where? Offline, from a capture."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read captures (pcap, pcapng, gzip-compressed; "-" for stdin) and report their flows.
    Analyze(Box<AnalyzeArgs>),
    /// What changed between two runs ("does it still send data after the patch?"): each side
    /// is a capture, a HAR or a saved `--format json` report.
    Diff(Box<DiffArgs>),
    /// A pass/fail gate: exit 1 and list the violations when the captures break the policy
    /// (docs/POLICY.md), 0 when they keep it, 2 on error.
    Check(Box<CheckArgs>),
    /// Print what is embedded (address, organisation and suffix data: sources, licences,
    /// dates, counts) and what the given databases and lists add.
    Data(DataArgs),
}

/// What `analyze`, `diff` and `check` share: the device, attribution and caps.
#[derive(clap::Args)]
struct Setup {
    #[command(flatten)]
    identifiers: Identifiers,
    #[command(flatten)]
    attribution: AttributionArgs,
    #[command(flatten)]
    decryption: DecryptionArgs,
    #[command(flatten)]
    limits: Limits,
    /// Worker threads that flows are shared out to (default: one per core). Output is the
    /// same for any number of threads above 1; 1 runs everything on one thread, with flows
    /// ended by the same packet in a different order (docs/OUTPUT.md, "Order").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
}

/// TLS and QUIC decryption (docs/DECRYPTION.md).
#[derive(clap::Args)]
struct DecryptionArgs {
    /// TLS key log (NSS format, as SSLKEYLOGFILE, mitmproxy and PCAPdroid write it;
    /// repeatable). TLS and QUIC flows whose secrets it holds are decrypted and read like
    /// cleartext. Secrets inside a pcapng capture (Decryption Secrets Blocks) are used
    /// without this flag.
    #[arg(long = "keylog", value_name = "FILE")]
    keylogs: Vec<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The earlier run: a capture, a HAR or a saved JSON report.
    #[arg(value_name = "BEFORE")]
    before: String,
    /// The later run.
    #[arg(value_name = "AFTER")]
    after: String,
    /// Output format: text, json, or html (one self-contained page, like the report's).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Write the diff here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Colour in the text output: auto (when standard output is a terminal and NO_COLOR is
    /// not set), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(flatten)]
    setup: Setup,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// The style for text going to `path` (standard output when `None`): `auto` colours only
    /// a terminal, and not when NO_COLOR is set to anything (no-color.org) or TERM is `dumb`.
    fn style(self, path: Option<&std::path::Path>) -> Style {
        let color = match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                path.is_none()
                    && std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        };
        Style { color }
    }
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The policy (TOML; see examples/policy.toml).
    #[arg(long, value_name = "POLICY.toml")]
    policy: std::path::PathBuf,
    /// Captures, HARs or saved JSON reports, checked together.
    #[arg(required = true, value_name = "CAPTURE")]
    inputs: Vec<String>,
    /// Output format: text or json.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
    /// Colour in the text output: auto (when standard output is a terminal and NO_COLOR is
    /// not set), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Also write the packets of the flows that carry findings to this pcapng file (file
    /// inputs only: they are read a second time).
    #[arg(long, value_name = "FILE")]
    evidence_pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    setup: Setup,
}

#[derive(clap::Args)]
struct DataArgs {
    #[command(flatten)]
    attribution: AttributionArgs,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files; "-" reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    inputs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Text summary: only the identifiers that left; and no problem lines or progress bar on
    /// stderr.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Text summary: list every row (up to 100 per section) instead of the top 15.
    #[arg(short, long)]
    verbose: bool,
    /// Colour in the text summary: auto (when standard output is a terminal and NO_COLOR is
    /// not set), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Also write the packets of the flows that carry findings to this pcapng file, to open
    /// in Wireshark (file inputs only: they are read a second time; each packet's comment
    /// names its input and frame number).
    #[arg(long, value_name = "FILE")]
    evidence_pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    setup: Setup,
}

/// Who and where destinations are (docs/ATTRIBUTION.md): embedded data unless replaced.
#[derive(clap::Args)]
struct AttributionArgs {
    /// Country database in MaxMind DB format (GeoLite2-Country, DB-IP, IPinfo) instead of
    /// the embedded table.
    #[arg(long, value_name = "FILE.mmdb")]
    geoip: Option<std::path::PathBuf>,
    /// ASN database in MaxMind DB format (GeoLite2-ASN, DB-IP, IPinfo) instead of the
    /// embedded table.
    #[arg(long, value_name = "FILE.mmdb")]
    asn: Option<std::path::PathBuf>,
    /// Tracker or entity list (repeatable; later lists win): hosts file, domain list,
    /// AdBlock rules, Disconnect services.json/entities.json, DuckDuckGo TDS or Tracker
    /// Radar file, Ghostery TrackerDB, X-Ray. The format is detected, or given as
    /// FORMAT:FILE (hosts, domains, adblock, disconnect-services, ...).
    #[arg(long = "trackers", value_name = "[FORMAT:]FILE")]
    trackers: Vec<String>,
    /// The device's maker, for first/third party (overrides `vendor` in the profile).
    #[arg(long, value_name = "NAME")]
    vendor: Option<String>,
    /// Do not attribute destinations (no country, AS or organisation in the output).
    #[arg(long)]
    no_attribution: bool,
}

/// What to look for: the device's own identifiers (docs/DETECTION.md).
#[derive(clap::Args)]
struct Identifiers {
    /// Device profile (TOML): the identifiers to look for, the device's maker and region.
    #[arg(long, value_name = "FILE")]
    profile: Option<std::path::PathBuf>,
    /// One identifier to look for, as KIND=VALUE or KIND/LABEL=VALUE (repeatable), e.g.
    /// `--id imei=356938035643809 --id contact/Mum=+6591112222`.
    #[arg(long = "id", value_name = "KIND=VALUE")]
    ids: Vec<String>,
    /// Region for phone numbers written without a country code (ISO 3166 code, e.g. SG).
    #[arg(long, value_name = "CC")]
    region: Option<String>,
    /// Put identifier values into the report (they are redacted by default: reports are
    /// shared, the values are personal).
    #[arg(long)]
    show_values: bool,
    /// Look only for declared identifiers, not for undeclared ones (IMEI, MAC, e-mail...
    /// recognised by their key and shape).
    #[arg(long)]
    declared_only: bool,
    /// Also search what servers send for the declared identifiers (as their forms are: no
    /// URL or JSON decoding). A server sending a value back shows that it holds it; by
    /// default only what the device sends is searched.
    #[arg(long)]
    search_received: bool,
    /// Findings reported per stream direction of a flow (and at most 64 per scanned text);
    /// the rest are counted in stats.caps.findings.
    #[arg(long, default_value_t = 256)]
    max_findings_per_flow: usize,
}

/// Resource caps (defaults suit a laptop; every cap hit is counted in the stats event).
#[derive(clap::Args)]
struct Limits {
    /// Live flows held at once; beyond it the flow nearest its timeout is evicted.
    #[arg(long, default_value_t = 1_000_000)]
    max_flows: usize,
    /// Out-of-order TCP bytes buffered per flow direction.
    #[arg(long, default_value_t = 1 << 20)]
    tcp_buffer_per_flow: usize,
    /// Out-of-order TCP bytes buffered for all flows together.
    #[arg(long, default_value_t = 256 << 20)]
    tcp_buffer_total: usize,
    /// Bytes held for incomplete fragmented IP datagrams.
    #[arg(long, default_value_t = 16 << 20)]
    frag_buffer_total: usize,
    /// Incomplete fragmented IP datagrams held at once.
    #[arg(long, default_value_t = 4096)]
    max_frag_datagrams: usize,
    /// Idle timeout of TCP flows, in seconds of capture time.
    #[arg(long, default_value_t = 600)]
    tcp_timeout: u32,
    /// Idle timeout of UDP flows, in seconds of capture time.
    #[arg(long, default_value_t = 180)]
    udp_timeout: u32,
    /// Bytes a TLS handshake message may take while it is assembled (also the CRYPTO data
    /// held per QUIC connection).
    #[arg(long, default_value_t = 64 << 10)]
    max_tls_handshake: usize,
    /// Addresses remembered from DNS answers to name later flows.
    #[arg(long, default_value_t = 200_000)]
    max_dns_names: usize,
    /// Resource records read per DNS message (answer, authority and additional together).
    #[arg(long, default_value_t = 1024)]
    max_dns_records: usize,
    /// Compression pointers one DNS name may follow (more is taken for a loop).
    #[arg(long, default_value_t = 128)]
    max_dns_pointers: usize,
    /// Bytes an HTTP head (request or status line and headers) may take.
    #[arg(long, default_value_t = 64 << 10)]
    max_http_head: usize,
    /// Headers kept per HTTP head (at most 128).
    #[arg(long, default_value_t = 100)]
    max_http_headers: usize,
    /// Decoded bytes kept per HTTP body; decompression stops there (bombs included). Also
    /// for HTTP/2 and HTTP/3.
    #[arg(long, default_value_t = 1 << 20)]
    max_http_body: usize,
    /// Decrypted QUIC stream bytes held per connection while they wait for what comes
    /// before them (frames arrive out of order); past it a stream steps over its hole.
    #[arg(long, default_value_t = 1 << 20)]
    max_quic_stream_buffer: usize,
    /// Bytes one capture record (pcap packet, pcapng block) may take; reading a file stops at
    /// a longer one.
    #[arg(long, default_value_t = 16 << 20)]
    max_capture_record: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A short human summary.
    Text,
    /// One EVE-style JSON object per line.
    Ndjson,
    /// One self-contained HTML page (no network requests, no script), for people.
    Html,
    /// One JSON document: identifiers, organisations, countries, destinations (what `diff`
    /// reads back).
    Json,
    /// One row per flow and per leak.
    Csv,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    match cli.command {
        Command::Analyze(args) => analyze(*args),
        Command::Diff(args) => diff(*args),
        Command::Check(args) => check(*args),
        Command::Data(args) => data(args),
    }
}

/// The identifier search from the profile and flags, and the device's maker from the
/// profile; an error is a message for the user.
fn detection(args: &Identifiers) -> Result<(Detection, Option<String>), String> {
    let mut profile = match &args.profile {
        Some(path) => Profile::load(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => Profile::default(),
    };
    for flag in &args.ids {
        profile.ids.push(DeclaredId::parse_flag(flag).map_err(|e| format!("--id {flag}: {e}"))?);
    }
    if let Some(region) = &args.region {
        profile.set_region(region).map_err(|e| format!("--region {region}: {e}"))?;
    }
    for w in profile.warnings() {
        eprintln!("phonehome: warning: {w}");
    }
    let options = Options {
        show_values: args.show_values,
        undeclared: !args.declared_only,
        max_findings_per_stream: args.max_findings_per_flow,
        max_findings_per_call: args.max_findings_per_flow.min(64),
        ..Options::default()
    };
    Ok((Detection::new(&profile, &options).search_received(args.search_received), profile.vendor.clone()))
}

/// The attribution stage from the flags; `vendor` comes from the profile.
fn attribution(args: &AttributionArgs, vendor: Option<String>) -> Result<Attribution, String> {
    if args.no_attribution {
        return Ok(Attribution::default());
    }
    let mut a = Attribution::embedded().with_vendor(args.vendor.clone().or(vendor));
    if args.geoip.is_some() || args.asn.is_some() {
        let db = IpDb::from_files(args.geoip.as_deref(), args.asn.as_deref()).map_err(|e| e.to_string())?;
        a = a.with_ip_db(db);
    }
    if let Some(db) = domain_db(&args.trackers)? {
        a = a.with_domain_db(db);
    }
    Ok(a)
}

/// The embedded name table plus the user's lists, or `None` when there are none.
fn domain_db(trackers: &[String]) -> Result<Option<DomainDb>, String> {
    if trackers.is_empty() {
        return Ok(None);
    }
    let mut db = DomainDb::embedded().clone();
    for arg in trackers {
        // FORMAT:FILE, unless what precedes the colon is not a format (a path with a colon).
        let (format, path) = match arg.split_once(':') {
            Some((f, p)) if ListFormat::parse(f).is_some() => (ListFormat::parse(f), p),
            _ => (None, arg.as_str()),
        };
        let bytes = std::fs::read(path).map_err(|e| format!("--trackers {path}: {e}"))?;
        // Reports name the list by its file name (the full path may say who ran it).
        let name = std::path::Path::new(path).file_name().map_or(path.into(), |n| n.to_string_lossy());
        let mut src = ListSource::new(&name, &bytes);
        if let Some(f) = format {
            src = src.format(f);
        }
        let report = db.add_list(src).map_err(|e| format!("--trackers {path}: {e}"))?;
        if report.entries == 0 {
            eprintln!("phonehome: warning: --trackers {path}: no usable entries (read as {})", report.format.as_str());
        }
    }
    Ok(Some(db))
}

impl AttributionArgs {
    /// Where the address data comes from, for report credits (reads no table); nothing when
    /// attribution is off.
    fn ip_sources(&self) -> Vec<phonehome_attribute::ip::DataSource> {
        if self.no_attribution {
            return Vec::new();
        }
        IpDb::from_files(self.geoip.as_deref(), self.asn.as_deref()).map(|db| db.sources()).unwrap_or_default()
    }
}

/// `phonehome data`: what attribution will use.
fn data(args: DataArgs) -> ExitCode {
    let a = &args.attribution;
    let ip = match IpDb::from_files(a.geoip.as_deref(), a.asn.as_deref()) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let domains = match domain_db(&a.trackers) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let text = phonehome_report::data::render(&ip.sources(), domains.as_ref().unwrap_or_else(|| DomainDb::embedded()));
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phonehome: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn config(limits: &Limits) -> Config {
    let mut c = Config::default();
    c.reader.max_record_len = limits.max_capture_record;
    c.flow.max_flows = limits.max_flows;
    c.flow.reassembly.max_buffer_per_direction = limits.tcp_buffer_per_flow;
    c.flow.tcp_max_buffer_total = limits.tcp_buffer_total;
    c.flow.tcp_timeout_ns = i64::from(limits.tcp_timeout) * 1_000_000_000;
    c.flow.udp_timeout_ns = i64::from(limits.udp_timeout) * 1_000_000_000;
    c.decoder.frag_max_bytes = limits.frag_buffer_total;
    c.decoder.frag_max_datagrams = limits.max_frag_datagrams;
    c.protocols.tls_handshake_max = limits.max_tls_handshake;
    c.protocols.dns_names_max = limits.max_dns_names;
    c.protocols.dns.max_records = limits.max_dns_records;
    c.protocols.dns.max_pointer_jumps = limits.max_dns_pointers;
    c.protocols.http.max_head = limits.max_http_head;
    c.protocols.http.max_headers = limits.max_http_headers;
    c.protocols.http.max_body = limits.max_http_body;
    c.protocols.h2.max_body = limits.max_http_body;
    c.protocols.h2.max_headers = limits.max_http_headers;
    c.protocols.quic_stream_buffer = limits.max_quic_stream_buffer;
    c
}

/// The engine's configuration for `setup`, with the device's maker given by the policy when
/// neither the flags nor the profile name it.
fn prepare(setup: &Setup, fallback_vendor: Option<String>) -> Result<Config, String> {
    let mut config = config(&setup.limits);
    config.threads = match setup.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let (detection, vendor) = detection(&setup.identifiers)?;
    config.detection = detection;
    config.attribution = attribution(&setup.attribution, vendor.or(fallback_vendor))?;
    for path in &setup.decryption.keylogs {
        let before = config.keylog.stats().clone();
        config.keylog.add_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let after = config.keylog.stats();
        // The key log is the user's own file: say when it holds nothing usable, since every
        // flow would then be reported "no_key" with no other hint.
        let (secrets, junk) = (after.secrets - before.secrets, after.junk_lines - before.junk_lines);
        if junk > 0 {
            eprintln!(
                "phonehome: {}: {junk} {} not key log entries (ignored)",
                path.display(),
                if junk == 1 { "line is" } else { "lines are" }
            );
        }
        if secrets == 0 && after.duplicates == before.duplicates {
            eprintln!("phonehome: {}: no TLS secrets in this key log", path.display());
        }
    }
    Ok(config)
}

/// The inputs of a run, opened, with a progress bar over them.
struct Opened {
    inputs: Vec<Input>,
    /// Names of `inputs`, in order (their index in the run).
    names: Vec<String>,
    /// Inputs that could not be opened.
    problems: Vec<String>,
    progress: Progress,
}

/// Opens the inputs (those that cannot be opened are kept as problems) and starts the
/// progress bar over them, unless `quiet`.
fn open_inputs(names: &[String], quiet: bool) -> Opened {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        match Input::open(name) {
            Ok(i) => inputs.push(i),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let progress = Progress::start("reading", &names, quiet);
    let inputs =
        inputs.into_iter().enumerate().map(|(n, i)| Input { reader: progress.reader(n, i.reader), ..i }).collect();
    Opened { inputs, names, problems, progress }
}

fn output(path: Option<&std::path::Path>) -> Result<Box<dyn Write>, String> {
    let out: Box<dyn Write> = match path {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    Ok(Box::new(BufWriter::with_capacity(1 << 16, out)))
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let config = match prepare(&args.setup, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut evidence = match args.evidence_pcap.as_deref().map(|p| Evidence::create(p, &args.inputs)).transpose() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let out = match output(args.output.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // NDJSON and CSV are written while the inputs are read: into a terminal, a bar on the
    // same screen would tear their lines.
    let streaming =
        matches!(args.format, Format::Ndjson | Format::Csv) && args.output.is_none() && std::io::stdout().is_terminal();
    let Opened { inputs, names, problems, mut progress } = open_inputs(&args.inputs, args.quiet || streaming);
    let detail = if args.quiet {
        Detail::Quiet
    } else if args.verbose {
        Detail::Verbose
    } else {
        Detail::Normal
    };
    let mut sink: Box<dyn EventSink> = match args.format {
        Format::Text => {
            Box::new(TextSummary::new(out).with_detail(detail).with_style(args.color.style(args.output.as_deref())))
        }
        Format::Ndjson => Box::new(NdjsonSink::new(out)),
        Format::Html => Box::new(
            HtmlReport::new(out)
                .show_values(args.setup.identifiers.show_values)
                .data_sources(args.setup.attribution.ip_sources()),
        ),
        Format::Json => Box::new(JsonReport::new(out)),
        Format::Csv => Box::new(CsvSink::new(out)),
    };
    // The bar stops before the report is written (StopFirst). Evidence needs every event, so
    // with it the report gets events (a Tee has no encoder); without it an NDJSON sink's
    // encoder reaches the threaded engine.
    let result = match &mut evidence {
        Some(ev) => {
            phonehome_engine::run(inputs, &config, &mut StopFirst(&mut progress, &mut Tee(&mut *sink, &mut ev.flows)))
        }
        None => phonehome_engine::run(inputs, &config, &mut StopFirst(&mut progress, &mut *sink)),
    };
    progress.end();
    if !args.quiet {
        for p in &problems {
            eprintln!("phonehome: {p}");
        }
    }
    // The evidence file is written after a complete run only.
    if let Some(ev) = evidence.take_if(|_| !result.as_ref().is_ok_and(|o| o.readable_inputs > 0)) {
        ev.discard();
    }
    match result {
        Ok(outcome) => {
            if !args.quiet {
                for p in &outcome.problems {
                    eprintln!("phonehome: {p}");
                }
            }
            if outcome.readable_inputs == 0 {
                return ExitCode::from(EXIT_ERROR);
            }
            if let Some(ev) = evidence
                && let Err(e) = ev.write(&names, &outcome.stats, &config, args.quiet)
            {
                eprintln!("phonehome: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
            ExitCode::SUCCESS
        }
        // A reader that went away (`phonehome ... | head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phonehome: writing the report: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The report of one side of `diff` or of `check`'s inputs: saved reports are read back,
/// anything else is analysed. Problems reading an input go to stderr; an input from which
/// nothing could be read is an error.
fn report_of(names: &[String], config: &Config, evidence: Option<Evidence>) -> Result<Report, String> {
    if let [name] = names
        && name != "-"
    {
        let mut head = Vec::new();
        let file = std::fs::File::open(name).map_err(|e| format!("{name}: {e}"))?;
        std::io::Read::read_to_end(&mut std::io::Read::take(file, 512), &mut head)
            .map_err(|e| format!("{name}: {e}"))?;
        if Report::parse(&head).is_some() {
            let bytes = std::fs::read(name).map_err(|e| format!("{name}: {e}"))?;
            if let Some(r) = Report::parse(&bytes) {
                if let Some(ev) = evidence {
                    eprintln!("phonehome: --evidence-pcap: {name}: a saved report holds no packets");
                    ev.discard(); // the file was created before the input was known
                }
                return r.map_err(|e| format!("{name}: not a readable phonehome report: {e}"));
            }
        }
    }
    let Opened { inputs, names: opened, problems, progress } = open_inputs(names, false);
    let mut builder = SummaryBuilder::new();
    let mut evidence = evidence;
    let result = match &mut evidence {
        Some(ev) => phonehome_engine::run(inputs, config, &mut Tee(&mut builder, &mut ev.flows)),
        None => phonehome_engine::run(inputs, config, &mut builder),
    };
    progress.end();
    let outcome = match result {
        Ok(o) if o.readable_inputs > 0 => o,
        failed => {
            if let Some(ev) = evidence {
                ev.discard();
            }
            let outcome = failed.map_err(|e| e.to_string())?;
            for p in problems.iter().chain(&outcome.problems) {
                eprintln!("phonehome: {p}");
            }
            return Err(format!("nothing readable in {}", names.join(", ")));
        }
    };
    for p in problems.iter().chain(&outcome.problems) {
        eprintln!("phonehome: {p}");
    }
    if let Some(ev) = evidence {
        ev.write(&opened, &outcome.stats, config, false)?;
    }
    Ok(Report::from_summary(builder.summary()))
}

fn diff(args: DiffArgs) -> ExitCode {
    let run = || -> Result<(), String> {
        let config = prepare(&args.setup, None)?;
        let before = report_of(std::slice::from_ref(&args.before), &config, None)?;
        let after = report_of(std::slice::from_ref(&args.after), &config, None)?;
        let d = Diff::new(&before, &after);
        let mut out = output(args.output.as_deref())?;
        let written = match args.format {
            DiffFormat::Text => {
                out.write_all(d.render_text_styled(args.color.style(args.output.as_deref())).as_bytes())
            }
            DiffFormat::Html => out.write_all(phonehome_report::html::diff::render(&d).as_bytes()),
            DiffFormat::Json => serde_json::to_writer_pretty(&mut out, &d)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
        };
        written.and_then(|()| out.flush()).or_else(ignore_broken_pipe).map_err(|e| format!("writing the diff: {e}"))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phonehome: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let run = || -> Result<bool, String> {
        let text = std::fs::read_to_string(&args.policy).map_err(|e| format!("{}: {e}", args.policy.display()))?;
        let policy = Policy::parse(&text).map_err(|e| format!("{}: {e}", args.policy.display()))?;
        let config = prepare(&args.setup, policy.vendor.clone())?;
        if policy.needs_vendor() && !config.attribution.has_vendor() {
            return Err(format!(
                "{}: deny_identifiers_to_third_parties needs the device's maker: `vendor` in the policy or profile, or --vendor",
                args.policy.display()
            ));
        }
        let evidence = args.evidence_pcap.as_deref().map(|p| Evidence::create(p, &args.inputs)).transpose()?;
        let report = report_of(&args.inputs, &config, evidence)?;
        let violations = policy.check(&report);
        let mut out = output(None)?;
        let style = args.color.style(None);
        let written = match args.format {
            CheckFormat::Text => {
                let mut s = String::new();
                if violations.is_empty() {
                    s.push_str(&format!(
                        "{} {} keeps the policy {}\n",
                        style.good("PASS:"),
                        args.inputs.join(", "),
                        args.policy.display()
                    ));
                } else {
                    s.push_str(&format!(
                        "{} {} violation{} of {} in {}\n",
                        style.bad("FAIL:"),
                        violations.len(),
                        if violations.len() == 1 { "" } else { "s" },
                        args.policy.display(),
                        args.inputs.join(", ")
                    ));
                    for v in &violations {
                        s.push_str(&format!("  {}: {}\n", style.bad(v.rule), v.detail));
                    }
                }
                out.write_all(s.as_bytes())
            }
            CheckFormat::Json => {
                let doc = serde_json::json!({"pass": violations.is_empty(), "violations": violations});
                serde_json::to_writer_pretty(&mut out, &doc)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
            }
        };
        written
            .and_then(|()| out.flush())
            .or_else(ignore_broken_pipe)
            .map_err(|e| format!("writing the result: {e}"))?;
        Ok(violations.is_empty())
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("phonehome: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// A reader that went away (`phonehome ... | head`) is not a failure.
fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) }
}
