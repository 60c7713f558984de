//! `phonehome`: what does this device send, to whom, and where? The binary only parses
//! arguments and wires the engine to a report sink; everything else lives in the crates.
#![forbid(unsafe_code)]

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use phonehome_attribute::domain::{DomainDb, Format as ListFormat, ListSource};
use phonehome_attribute::ip::IpDb;
use phonehome_detect::{DeclaredId, Options, Profile};
use phonehome_engine::{Attribution, Config, Detection, Input};
use phonehome_model::EventSink;
use phonehome_report::{NdjsonSink, TextSummary};

/// Exit codes (docs/OUTPUT.md): 0 success, 2 nothing readable or a usage error.
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
    /// Print what is embedded (address, organisation and suffix data: sources, licences,
    /// dates, counts) and what the given databases and lists add.
    Data(DataArgs),
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
    #[command(flatten)]
    identifiers: Identifiers,
    #[command(flatten)]
    attribution: AttributionArgs,
    #[command(flatten)]
    limits: Limits,
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
    /// Idle timeout of TCP flows, in seconds of capture time.
    #[arg(long, default_value_t = 600)]
    tcp_timeout: u32,
    /// Idle timeout of UDP flows, in seconds of capture time.
    #[arg(long, default_value_t = 180)]
    udp_timeout: u32,
    /// Bytes a TLS handshake message may take while it is assembled.
    #[arg(long, default_value_t = 64 << 10)]
    max_tls_handshake: usize,
    /// Addresses remembered from DNS answers to name later flows.
    #[arg(long, default_value_t = 200_000)]
    max_dns_names: usize,
    /// Bytes an HTTP head (request or status line and headers) may take.
    #[arg(long, default_value_t = 64 << 10)]
    max_http_head: usize,
    /// Headers kept per HTTP head (at most 128).
    #[arg(long, default_value_t = 100)]
    max_http_headers: usize,
    /// Decoded bytes kept per HTTP body; decompression stops there (bombs included).
    #[arg(long, default_value_t = 1 << 20)]
    max_http_body: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A short human summary.
    Text,
    /// One EVE-style JSON object per line.
    Ndjson,
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
    Ok((Detection::new(&profile, &options), profile.vendor.clone()))
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
    c.flow.max_flows = limits.max_flows;
    c.flow.reassembly.max_buffer_per_direction = limits.tcp_buffer_per_flow;
    c.flow.tcp_max_buffer_total = limits.tcp_buffer_total;
    c.flow.tcp_timeout_ns = i64::from(limits.tcp_timeout) * 1_000_000_000;
    c.flow.udp_timeout_ns = i64::from(limits.udp_timeout) * 1_000_000_000;
    c.decoder.frag_max_bytes = limits.frag_buffer_total;
    c.protocols.tls_handshake_max = limits.max_tls_handshake;
    c.protocols.dns_names_max = limits.max_dns_names;
    c.protocols.http.max_head = limits.max_http_head;
    c.protocols.http.max_headers = limits.max_http_headers;
    c.protocols.http.max_body = limits.max_http_body;
    c
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let mut config = config(&args.limits);
    let prepared = detection(&args.identifiers)
        .and_then(|(detection, vendor)| Ok((detection, attribution(&args.attribution, vendor)?)));
    match prepared {
        Ok((detection, attribution)) => {
            config.detection = detection;
            config.attribution = attribution;
        }
        Err(e) => {
            eprintln!("phonehome: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for name in &args.inputs {
        match Input::open(name) {
            Ok(i) => inputs.push(i),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("phonehome: {}: {e}", path.display());
                return ExitCode::from(EXIT_ERROR);
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    let out = BufWriter::with_capacity(1 << 16, out);
    let mut sink: Box<dyn EventSink> = match args.format {
        Format::Text => Box::new(TextSummary::new(out)),
        Format::Ndjson => Box::new(NdjsonSink::new(out)),
    };
    let result = phonehome_engine::run(inputs, &config, &mut *sink);
    for p in &problems {
        eprintln!("phonehome: {p}");
    }
    match result {
        Ok(outcome) => {
            for p in &outcome.problems {
                eprintln!("phonehome: {p}");
            }
            if outcome.readable_inputs == 0 { ExitCode::from(EXIT_ERROR) } else { ExitCode::SUCCESS }
        }
        // A reader that went away (`phonehome ... | head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phonehome: writing the report: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
