//! Reports beyond NDJSON, end to end on real captures: the text summary (snapshot), `-q`,
//! `--format json` and `csv`, `diff` (captures and saved reports) and `check` (policy gate).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn phonehome(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome")).args(args).current_dir(root()).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const XIAOMI: &str = "fixtures/captures/ndpi__xiaomi.pcap";
const KXUN: &str = "examples/1kxun.pcap";

/// The text summary of a real capture, compared with the committed snapshot. To accept a
/// deliberate change: `UPDATE_SNAPSHOTS=1 cargo test -p phonehome --test reports`.
#[test]
fn text_summary_snapshot() {
    for (name, args) in [
        ("xiaomi.txt", vec!["analyze", "--vendor", "Xiaomi", XIAOMI]),
        ("1kxun-quiet.txt", vec!["analyze", "-q", "--vendor", "Xiaomi", KXUN]),
        (
            "loopback-tls-decrypted.txt",
            vec![
                "analyze",
                "fixtures/captures/loopback__tls-http.pcap",
                "--keylog",
                "fixtures/captures/loopback__tls-http.keylog",
                "--id",
                "imei=356938035643809",
                "--id",
                "email/work=jane.doe@example.com",
                "--search-received",
            ],
        ),
    ] {
        let out = phonehome(&args);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        let path = root().join("crates/cli/tests/snapshots").join(name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text, want, "{name} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept)");
    }
}

/// Colour only when asked (or on a terminal, which tests never are): `--color always` paints
/// the text summary, diff and check, even with NO_COLOR (an explicit flag wins); `never` and
/// the default through a pipe do not.
#[test]
fn colour_only_when_asked() {
    let esc = |out: &Output| stdout(out).contains('\x1b');
    let always = phonehome(&["analyze", "--color", "always", "--vendor", "Xiaomi", XIAOMI]);
    let text = stdout(&always);
    assert!(text.contains("\x1b[1mOrganisations (of "), "{text}");
    assert!(text.contains("\x1b[32mfirst party\x1b[0m"), "{text}");
    let never = phonehome(&["analyze", "--color", "never", "--vendor", "Xiaomi", XIAOMI]);
    assert!(!esc(&never));
    // Without the escapes, the same text.
    let plain: String = {
        let mut s = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find('\x1b') {
            s.push_str(&rest[..i]);
            rest = &rest[i + rest[i..].find('m').unwrap() + 1..];
        }
        s + rest
    };
    assert_eq!(plain, stdout(&never));
    assert!(!esc(&phonehome(&["analyze", "--vendor", "Xiaomi", XIAOMI])), "auto, into a pipe");
    let no_color = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["analyze", "--color", "always", XIAOMI])
        .env("NO_COLOR", "1")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(esc(&no_color), "--color always wins over NO_COLOR");

    let diff = phonehome(&["diff", "--color", "always", "--vendor", "Xiaomi", XIAOMI, KXUN]);
    assert!(stdout(&diff).contains("\x1b[1mIdentifiers:\x1b[0m"), "{}", stdout(&diff));
    assert!(stdout(&diff).contains("\x1b[33m+ "), "appeared, in yellow");
    assert!(!esc(&phonehome(&["diff", "--color", "never", XIAOMI, KXUN])));
    let check =
        phonehome(&["check", "--color", "always", "--policy", "examples/policy.toml", "--vendor", "Xiaomi", KXUN]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).starts_with("\x1b[31mFAIL:\x1b[0m "), "{}", stdout(&check));
    let check = phonehome(&["check", "--policy", "examples/policy.toml", "--vendor", "Xiaomi", KXUN]);
    assert!(stdout(&check).starts_with("FAIL: "));
}

#[test]
fn quiet_says_only_what_left() {
    let text = stdout(&phonehome(&["analyze", "-q", KXUN]));
    assert!(text.contains("Identifiers sent"));
    assert!(!text.contains("Organisations") && !text.contains("Destinations"), "{text}");
    let verbose = stdout(&phonehome(&["analyze", "-v", KXUN]));
    let normal = stdout(&phonehome(&["analyze", KXUN]));
    assert!(verbose.lines().count() > normal.lines().count() + 20);
}

#[test]
fn json_report_round_trips_through_diff() {
    let saved = temp("xiaomi.json");
    let out = phonehome(&["analyze", "--format", "json", "--vendor", "Xiaomi", "-o", saved.to_str().unwrap(), XIAOMI]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(doc["format"], "phonehome-report");
    assert_eq!(doc["totals"]["flows"], 7);
    let xiaomi = doc["organisations"].as_array().unwrap().iter().find(|o| o["owner"]["name"] == "Xiaomi").unwrap();
    assert_eq!(xiaomi["owner"]["by"], "organisation");
    assert_eq!(xiaomi["home_country"], "CN");
    assert_eq!(xiaomi["third_party"], false);
    assert_eq!(xiaomi["flows"], 6);

    // A saved report against the capture it came from: nothing changed.
    let same = phonehome(&["diff", saved.to_str().unwrap(), XIAOMI]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    assert!(stdout(&same).contains("No destination, organisation, country or identifier appeared or disappeared."));

    // Before and after: a different device's traffic.
    let out = phonehome(&["diff", "--format", "json", "--vendor", "Xiaomi", saved.to_str().unwrap(), KXUN]);
    assert_eq!(out.status.code(), Some(0));
    let d: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let appeared: Vec<&str> =
        d["organisations"]["appeared"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(appeared.iter().any(|o| o.starts_with("Mintegral")), "{appeared:?}");
    assert!(
        d["organisations"]["disappeared"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().starts_with("Xiaomi"))
    );
    let new_ids = d["identifiers"].as_array().unwrap();
    assert!(
        new_ids
            .iter()
            .any(|c| c["identifier"] == "android_id" && c["destination"] == "ws.1kxun.mobi" && c["before"] == 0)
    );
    assert!(
        d["server_countries"]["appeared"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("JP"))
    );

    let broken = temp("broken.json");
    std::fs::write(&broken, "{\"format\": \"phonehome-report\", \"version\": 1, \"inputs\": 3}").unwrap();
    let out = phonehome(&["diff", broken.to_str().unwrap(), XIAOMI]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable phonehome report"));
}

#[test]
fn csv_has_flows_and_leaks_under_one_header() {
    let out = phonehome(&["analyze", "--format", "csv", "--id", "android_id=b9e28776354d259e", KXUN]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let mut lines = text.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "record");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.iter().filter(|r| r.starts_with("flow,")).count(), 197);
    let leak =
        rows.iter().find(|r| r.starts_with("leak,") && r.contains(",android_id,,true,")).expect("a declared leak row");
    let fields = split_csv(leak);
    assert_eq!(fields.len(), header.len(), "{leak}");
    assert_eq!(fields[col("dest_hostname")], "ws.1kxun.mobi");
    assert_eq!(fields[col("pcap_cnt")], "1033");
}

/// One CSV line's fields (RFC 4180 quoting; no line breaks inside these rows).
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[test]
fn check_is_a_gate() {
    let policy = temp("policy.toml");
    let write = |text: &str| std::fs::write(&policy, text).unwrap();
    let p = policy.to_str().unwrap();

    // Clean: the Xiaomi capture sends no identifier and reaches no denied country.
    write(
        "vendor = \"Xiaomi\"\ndeny_server_countries = [\"RU\"]\ndeny_identifiers_to_third_parties = [\"android_id\"]\n",
    );
    let out = phonehome(&["check", "--policy", p, XIAOMI]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).starts_with("PASS"));

    // Violations: Android ids to third parties, Chinese companies, plaintext HTTP.
    write(
        "vendor = \"Xiaomi\"\ndeny_company_countries = [\"CN\"]\ndeny_identifiers_to_third_parties = [\"android_id\"]\ndeny_plaintext_http = true\n",
    );
    let out = phonehome(&["check", "--policy", p, KXUN]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("FAIL: "), "{text}");
    assert!(
        text.contains(
            "deny_identifiers_to_third_parties: android_id sent to third party ws.1kxun.mobi [1kxun, server JP]"
        ),
        "{text}"
    );
    assert!(text.contains("deny_company_countries: Mintegral (based in CN)"), "{text}");
    assert!(text.contains("deny_plaintext_http: unencrypted HTTP to ws.1kxun.mobi"), "{text}");
    let json = phonehome(&["check", "--format", "json", "--policy", p, KXUN]);
    assert_eq!(json.status.code(), Some(1));
    let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(doc["pass"], false);
    assert!(doc["violations"].as_array().unwrap().len() >= 3);

    // The shipped example policy reads.
    let out = phonehome(&["check", "--policy", "examples/policy.toml", XIAOMI]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));

    // Errors: a misspelt key, a rule that needs the maker without one, nothing readable.
    write("deny_server_country = [\"CN\"]\n");
    assert_eq!(phonehome(&["check", "--policy", p, XIAOMI]).status.code(), Some(2));
    write("deny_identifiers_to_third_parties = [\"imei\"]\n");
    let out = phonehome(&["check", "--policy", p, XIAOMI]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("device's maker"));
    write("deny_plaintext_http = true\n");
    assert_eq!(phonehome(&["check", "--policy", p, "Cargo.toml"]).status.code(), Some(2));
}

#[test]
fn received_findings_are_counted_apart_and_trip_no_policy_rule() {
    // The POP3 mail the client downloads carries the declared phone number: with
    // --search-received it is found, in what the server sent. The client's USER command sends
    // an e-mail address.
    const POP3: &str = "fixtures/captures/ndpi__pop3.pcap";
    let ids = ["--id", "phone=+39 081 768 3821", "--search-received"];
    let out = phonehome(&[&["analyze", "--format", "json"], &ids[..], &[POP3]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ids_json = doc["identifiers"].as_array().unwrap();
    let phone = ids_json.iter().find(|i| i["kind"] == "phone").expect("the declared phone number");
    assert!(phone["count"].as_u64().unwrap() >= 1);
    assert_eq!(phone["received"], phone["count"], "{phone}");
    assert_eq!(phone["destinations"][0]["received"], phone["destinations"][0]["count"], "{phone}");
    let email = ids_json.iter().find(|i| i["kind"] == "email").expect("the USER e-mail address");
    assert_eq!(email["received"], 0, "{email}");

    let policy = temp("received-policy.toml");
    let p = policy.to_str().unwrap();
    std::fs::write(&policy, "deny_identifiers = [\"phone\"]\n").unwrap();
    let out = phonehome(&[&["check", "--policy", p], &ids[..], &[POP3]].concat());
    assert_eq!(out.status.code(), Some(0), "only received: {}", stdout(&out));
    std::fs::write(&policy, "deny_identifiers = [\"email\"]\n").unwrap();
    let out = phonehome(&[&["check", "--policy", p], &ids[..], &[POP3]].concat());
    assert_eq!(out.status.code(), Some(1), "sent: {}", stdout(&out));
    assert!(stdout(&out).contains("deny_identifiers: email sent to"), "{}", stdout(&out));
}
