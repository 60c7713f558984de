//! Who and where, end to end: `dest_geo`, `dest_as`, `dest_domain`, `dest_org` and
//! `third_party` on flow and leak events of real captures, the user's databases and lists,
//! the text summary's organisations and countries, and `phonehome data`.

mod common;

use common::{ndjson, of_type, phonehome};
use serde_json::Value;
use std::path::PathBuf;

fn flow_to<'a>(events: &'a [Value], dest_ip: &str) -> &'a Value {
    of_type(events, "flow")
        .into_iter()
        .find(|f| f["dest_ip"] == dest_ip)
        .unwrap_or_else(|| panic!("no flow to {dest_ip}"))
}

const XIAOMI: &str = "fixtures/captures/ndpi__xiaomi.pcap";

#[test]
fn xiaomi_push_is_xiaomi_wherever_its_servers_are() {
    let ev = ndjson(&["--vendor", "Redmi", XIAOMI]);
    // MiPush flows: the load balancers are Amazon's (AS16509, DE) and the carriers' proxies,
    // but the name the phone dialled, or the service domain, says Xiaomi.
    for ip in ["18.193.233.122", "3.127.176.74", "115.164.74.232", "97.39.119.172"] {
        let f = flow_to(&ev, ip);
        assert_eq!(f["app_proto"], "mipush", "{ip}");
        assert_eq!(f["hostname_source"], "mipush", "{ip}");
        assert_eq!(f["dest_org"]["name"], "Xiaomi", "{ip}");
        assert_eq!(f["dest_org"]["country"], "CN", "{ip}");
        assert!(f["dest_org"]["source"].as_str().is_some_and(|s| !s.is_empty()), "{ip}");
        assert_eq!(f["third_party"], false, "Redmi is a Xiaomi brand: {ip}");
        assert_eq!(f["dest_geo"]["scope"], "public", "{ip}");
    }
    let elb = flow_to(&ev, "18.193.233.122");
    assert_eq!(elb["dest_hostname"], "fr-app-chat-global-xiaomi-net2-2117517874.eu-central-1.elb.amazonaws.com");
    assert_eq!(elb["dest_domain"], "amazonaws.com");
    assert_eq!(elb["dest_as"]["number"], 16509);
    assert_eq!(elb["dest_geo"]["country"], "DE");
    // A bare address dialled: the service domain names the flow.
    assert_eq!(flow_to(&ev, "115.164.74.232")["dest_hostname"], "xiaomi.com");
    assert_eq!(flow_to(&ev, "115.164.74.232")["dest_geo"]["country"], "MY");
    // Alibaba Cloud's HTTPDNS, asked by address: only the network is known.
    let httpdns = flow_to(&ev, "203.107.1.65");
    assert!(httpdns["dest_as"]["org"].as_str().unwrap().contains("Alibaba"), "{httpdns}");
    assert_eq!(httpdns["dest_geo"]["country"], "CN");
    assert!(httpdns.get("dest_org").is_none() && httpdns.get("third_party").is_none());
    // A private address is labelled, never located.
    let private = flow_to(&ev, "10.52.151.160");
    assert_eq!(private["dest_geo"], serde_json::json!({"scope": "private"}));
    assert!(private.get("dest_as").is_none());
}

#[test]
fn cloud_iot_backend_is_known_by_its_network() {
    let ev = ndjson(&["fixtures/captures/ndpi__merakicloud.pcapng"]);
    let flows = of_type(&ev, "flow");
    let meraki = flows.iter().find(|f| f["dest_as"]["number"] == 395831).expect("a flow to Meraki's AS");
    assert!(meraki["dest_as"]["org"].as_str().unwrap().contains("Meraki"));
    assert_eq!(meraki["dest_geo"]["country"], "US");
}

#[test]
fn nest_log_sink_goes_to_google() {
    let ev = ndjson(&["--vendor", "Google", "fixtures/captures/ndpi__nest_log_sink.pcap"]);
    let google: Vec<_> = of_type(&ev, "flow").into_iter().filter(|f| f["dest_org"]["name"] == "Google").collect();
    assert!(google.len() >= 10, "{}", google.len());
    for f in &google {
        assert_eq!(f["dest_org"]["parent"], "Alphabet");
        assert_eq!(f["third_party"], false);
    }
    assert!(google.iter().any(|f| f["dest_org"]["category"] == "vendor_telemetry"));
}

#[test]
fn leaks_say_who_received_them() {
    let ev = ndjson(&["--vendor", "Xiaomi", "--id", "android_id=b9e28776354d259e", "examples/1kxun.pcap"]);
    let leaks = of_type(&ev, "leak");
    assert!(!leaks.is_empty());
    for l in &leaks {
        assert!(l["dest_geo"]["scope"].is_string(), "{l}");
    }
    let to_1kxun = leaks.iter().find(|l| l["dest_hostname"] == "ws.1kxun.mobi").unwrap();
    assert_eq!(to_1kxun["dest_domain"], "1kxun.mobi");
    // Mintegral's ad servers receive advertising ids: a third party to Xiaomi.
    let ad = leaks.iter().find(|l| l["dest_org"]["name"] == "Mintegral").expect("a leak to Mintegral");
    assert_eq!(ad["third_party"], true);
    assert_eq!(ad["dest_org"]["category"], "advertising");
    assert_eq!(ad["dest_org"]["parent"], "Mobvista");
}

#[test]
fn attribution_can_be_turned_off() {
    let ev = ndjson(&["--no-attribution", XIAOMI]);
    for f in of_type(&ev, "flow") {
        for key in ["dest_geo", "dest_as", "dest_domain", "dest_org", "third_party"] {
            assert!(f.get(key).is_none(), "{key} in {f}");
        }
    }
}

/// A HAR with two requests to addresses the test databases know.
const HAR: &str = r#"{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[
{"startedDateTime":"2024-01-01T00:00:00Z","time":1,"serverIPAddress":"47.241.7.88",
 "request":{"method":"GET","url":"http://tracking.intl.miui.com/t?imei=356938035643809","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
 "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":0,"mimeType":"text/plain"},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{},"timings":{"send":0,"wait":0,"receive":0}},
{"startedDateTime":"2024-01-01T00:00:01Z","time":1,"serverIPAddress":"8.8.8.8",
 "request":{"method":"GET","url":"http://ads.trackerco.net/collect?id=356938035643809","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
 "response":{"status":204,"statusText":"","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":0,"mimeType":"text/plain"},"redirectURL":"","headersSize":-1,"bodySize":0},"cache":{},"timings":{"send":0,"wait":0,"receive":0}}
]}}"#;

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-attribution-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn users_databases_and_lists_replace_the_embedded_ones() {
    let har = temp("two.har", HAR);
    let hosts = temp("hosts.txt", "0.0.0.0 trackerco.net # ads\n");
    let har = har.to_str().unwrap();
    let leaks_with = |extra: &[&str]| {
        let mut args = vec!["--vendor", "Xiaomi", "--id", "imei=356938035643809"];
        args.extend_from_slice(extra);
        args.push(har);
        let ev = ndjson(&args);
        of_type(&ev, "leak").into_iter().cloned().collect::<Vec<_>>()
    };
    let find = |leaks: &[Value], host: &str| leaks.iter().find(|l| l["dest_hostname"] == host).cloned().unwrap();

    let embedded = leaks_with(&[]);
    let mi = find(&embedded, "tracking.intl.miui.com");
    assert_eq!(mi["dest_org"]["name"], "Xiaomi");
    assert_eq!(mi["third_party"], false);
    // The embedded table says where Alibaba Cloud's block is registered.
    assert_eq!(mi["dest_geo"]["country"], "US");
    let tracker = find(&embedded, "ads.trackerco.net");
    assert!(tracker.get("dest_org").is_none());

    let geoip = "crates/attribute/tests/data/ip-country-maxmind.mmdb";
    let asn = "crates/attribute/tests/data/ip-asn-maxmind.mmdb";
    let hosts_arg = format!("hosts:{}", hosts.display());
    let user = leaks_with(&["--geoip", geoip, "--asn", asn, "--trackers", &hosts_arg]);
    // GeoLite2's `country` (where the block is used) rather than the registration.
    assert_eq!(find(&user, "tracking.intl.miui.com")["dest_geo"]["country"], "SG");
    let tracker = find(&user, "ads.trackerco.net");
    assert_eq!(tracker["dest_as"], serde_json::json!({"number": 15169, "org": "Google LLC"}));
    assert_eq!(tracker["dest_domain"], "trackerco.net");
    assert_eq!(tracker["dest_listed_in"], "hosts.txt", "{tracker}");

    let bad = phonehome(&["analyze", "--geoip", "Cargo.toml", "examples/1kxun.pcap"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
}

#[test]
fn text_summary_groups_by_organisation_and_country() {
    let out = phonehome(&["analyze", "--vendor", "Xiaomi", XIAOMI]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let orgs = text.split("\nOrganisations").nth(1).expect("an organisations section");
    let first = orgs.lines().nth(1).unwrap();
    assert!(first.starts_with("  Xiaomi (HQ CN, first party): 6 flows"), "{text}");
    assert!(orgs.contains("servers in DE, MY, US"), "{text}");
    assert!(orgs.contains("AS37963 Hangzhou Alibaba"), "{text}");
    let countries = text.split("\nServer countries (of 4):").nth(1).expect("a countries section");
    assert!(countries.contains("  DE: 2 flows"), "{text}");
    assert!(text.contains("registered or announced"), "the meaning of a server country is stated");
}

#[test]
fn data_lists_sources_licences_and_counts() {
    let out = phonehome(&["data"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in
        ["country (embedded)", "asn (embedded)", "licence: CC0-1.0", "source_date:", "psl 2.1", "organisations: "]
    {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let hosts = temp("data-hosts.txt", "0.0.0.0 a.example\n0.0.0.0 b.example\n");
    let out = phonehome(&["data", "--trackers", hosts.to_str().unwrap()]);
    assert!(String::from_utf8(out.stdout).unwrap().contains(": 2 names"));
}
