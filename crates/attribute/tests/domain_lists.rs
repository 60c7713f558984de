//! Every list importer on a small excerpt of the real list (tests/data/lists, licences in
//! SOURCES.md there), and how lists merge over the embedded table.

use phonehome_attribute::domain::{Category, DomainDb, Format, ListError, ListReport, ListSource, MAX_LIST_BYTES};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/lists/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads one fixture (format detected) over the embedded table; checks the detection.
fn load(name: &str, expect: Format) -> (DomainDb, ListReport) {
    let data = fixture(name);
    let mut db = DomainDb::embedded().clone();
    let report = db.add_list(ListSource::new(name, &data)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report.format, expect, "{name}: detected format");
    // The same bytes with the format given read the same.
    let mut again = DomainDb::embedded().clone();
    let given = again.add_list(ListSource::new(name, &data).format(expect)).unwrap();
    assert_eq!(given, report, "{name}: given vs detected");
    (db, report)
}

fn org_of<'a>(db: &'a DomainDb, host: &str) -> Option<&'a str> {
    db.lookup(host).org.map(|o| o.name.as_str())
}

#[test]
fn stevenblack_hosts() {
    let (db, r) = load("stevenblack-hosts.excerpt.txt", Format::Hosts);
    // 6 commented + 8 SDK lines (0.0.0.0 0.0.0.0 is an address, not a name; localhost,
    // local, broadcasthost and the ip6-* names are skipped).
    assert_eq!(r.entries, 15, "{r:?}");
    assert!(r.skipped_suffix >= 8, "{r:?}");
    let info = db.lookup("events.appsflyer.com");
    assert_eq!(info.listed_in, Some("stevenblack-hosts.excerpt.txt"));
    // A hosts line says nothing about the owner: the table's answer stands.
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("AppsFlyer"));
    assert_eq!(info.category, Some(Category::Analytics));
    let info = db.lookup("docs.pipenv.org");
    assert_eq!((info.org, info.category, info.listed_in), (None, None, Some("stevenblack-hosts.excerpt.txt")));
    assert_eq!(db.lookup("localhost.localdomain").listed_in, None);
}

#[test]
fn hosts_with_a_category_and_org_given() {
    let data = fixture("hagezi-native.xiaomi-compressed.excerpt.txt");
    let mut db = DomainDb::embedded().clone();
    let r =
        db.add_list(ListSource::new("hagezi-xiaomi", &data).org("Xiaomi").category(Category::VendorTelemetry)).unwrap();
    assert_eq!(r.format, Format::Hosts);
    assert_eq!(r.skipped_canary, 1, "h4g3z1-native.xiaomi.web.app");
    assert_eq!(r.entries, 4 * 9 + 8, "9 names per line, canary dropped: {r:?}");
    assert_eq!(r.orgs_added, 0, "Xiaomi is the table's Xiaomi");
    // The list's default org/category apply to its names, including CDN aliases of
    // Xiaomi's hosts under Akamai's and Kingsoft's domains.
    let info = db.lookup("mistat.intl.xiaomi.com.edgesuite.net");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Xiaomi"));
    assert_eq!(info.category, Some(Category::VendorTelemetry));
    assert_eq!(info.org.unwrap().country.as_deref(), Some("CN"), "the table's facts are kept");
    assert!(db.is_first_party(info.org.unwrap(), "Redmi"));
    assert_eq!(db.lookup("h4g3z1-native.xiaomi.web.app").listed_in, None);
    // Elsewhere under edgesuite.net it is still Akamai.
    assert_eq!(org_of(&db, "a1.edgesuite.net"), Some("Akamai"));
}

#[test]
fn hagezi_domains_nextdns_and_perflyst() {
    let (db, r) = load("hagezi-native.xiaomi-domains.excerpt.txt", Format::Domains);
    assert_eq!((r.entries, r.skipped_canary), (15, 1), "{r:?}");
    assert!(db.lookup("t7z.cupid.ptqy.gitv.tv").listed_in.is_some());
    let (_, r) = load("nextdns-xiaomi.txt", Format::Domains);
    assert_eq!(r.entries, 9, "{r:?}");
    let (db, r) = load("perflyst-android-tracking.excerpt.txt", Format::Domains);
    assert_eq!(r.skipped_invalid, 0, "{r:?}");
    // Commented-out hosts ("# graph.facebook.com # needed for facebook groups") are not entries.
    assert_eq!(db.lookup("graph.facebook.com").listed_in, None);
    assert!(db.lookup("a-graph.facebook.com").listed_in.is_some());
}

#[test]
fn easyprivacy_domain_rules() {
    let (db, r) = load("easyprivacy.excerpt.txt", Format::Adblock);
    // 16 ||domain^ rules (two are IP addresses: invalid) and one ||domain^$domain= rule pair.
    assert_eq!(r.entries, 14 + 2, "{r:?}");
    assert_eq!(r.skipped_invalid, 2, "||34.215.155.61^ and ||44.228.85.26^");
    assert!(r.skipped_rules >= 10, "exceptions, cosmetic, paths: {r:?}");
    assert!(db.lookup("x.hm.baidu.com").listed_in.is_some());
    assert_eq!(org_of(&db, "hm.baidu.com"), Some("Baidu"));
    // An exception rule does not add its host.
    assert_eq!(db.lookup("bam.nr-data.net").listed_in, None);
}

#[test]
fn ghostery_trackerdb_txt_and_json() {
    let (db, r) = load("ghostery-trackerdb.excerpt.txt", Format::Adblock);
    assert!(r.entries > 0);
    let info = db.lookup("mmtro.com");
    assert_eq!(info.category, Some(Category::Analytics), "trackerdb_category:site_analytics");
    let info = db.lookup("p161.net");
    assert_eq!(info.category, Some(Category::Advertising));

    let (db, r) = load("ghostery-trackerdb.excerpt.json", Format::Ghostery);
    assert_eq!(r.entries, 15, "{r:?}");
    let info = db.lookup("mmtro.com");
    let org = info.org.unwrap();
    assert_eq!((org.name.as_str(), org.country.as_deref()), ("1000mercis", Some("FR")));
    assert_eq!(info.category, Some(Category::Analytics));
    // "Google" is the table's Google; the category comes from the list.
    let info = db.lookup("region1.google-analytics.com");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Google"));
    assert_eq!(info.org.unwrap().parent.as_deref(), Some("Alphabet"));
    // Ghostery says AppsFlyer is US; the table says IL. The user's list wins.
    let info = db.lookup("appsflyersdk.com");
    assert_eq!(info.org.unwrap().country.as_deref(), Some("US"));
    assert!(info.org.unwrap().source.contains("ghostery"));
    assert!(db.is_first_party(info.org.unwrap(), "AppsFlyer"));
    let adjust = db.lookup("adjust.com").org.unwrap();
    assert_eq!(adjust.name, "Adjust", "\"Adjust GmbH\" is the table's Adjust");
}

#[test]
fn disconnect_services_entities_and_reversed_copy() {
    let (db, r) = load("disconnect-services.excerpt.json", Format::DisconnectServices);
    assert!(!r.reversed);
    assert!(r.entries > 10, "{r:?}");
    let info = db.lookup("t.appsflyer.com");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("AppsFlyer"));
    assert_eq!(info.category, Some(Category::Advertising), "Disconnect files AppsFlyer under Advertising");

    let (db, r) = load("trackercontrol-disconnect.reversed.excerpt.json", Format::DisconnectServices);
    assert!(r.reversed);
    assert!(r.entries > 10, "{r:?}");
    assert_eq!(db.lookup("app.adjust.com").org.map(|o| o.name.as_str()), Some("Adjust"));

    let (db, r) = load("disconnect-entities.excerpt.json", Format::DisconnectEntities);
    assert!(r.entries > 50, "{r:?}");
    // Riot Games' domain under Disconnect's "Tencent" entity: the table's Tencent (CN).
    let info = db.lookup("na.leagueoflegends.com");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Tencent"));
    assert_eq!(info.org.unwrap().country.as_deref(), Some("CN"));
    assert_eq!(info.category, None, "entities carry no category");
    // Naming the company the table already has keeps the table's category.
    let info = db.lookup("settings.crashlytics.com");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Google"));
    assert_eq!(info.category, Some(Category::CrashReporting));
}

#[test]
fn duckduckgo_tds_and_tracker_radar() {
    let (db, r) = load("ddg-extension-tds-v6.excerpt.json", Format::DdgTds);
    assert!(r.entries >= 6, "{r:?}");
    // DuckDuckGo's entity "Google Analytics" is not a company the table knows: a new org,
    // whose `ownedBy` ("Google LLC") puts it in Google's family.
    let ga = db.lookup("www.google-analytics.com").org.unwrap();
    assert_eq!(ga.name, "Google Analytics (Google)");
    assert_eq!(ga.parent.as_deref(), Some("Google LLC"));
    assert!(db.is_first_party(ga, "Google"));
    assert!(!db.is_first_party(ga, "Xiaomi"));
    let branch = db.lookup("api2.branch.io").org.unwrap();
    assert_eq!(branch.name, "Branch", "\"Branch Metrics, Inc.\" is the table's Branch (its legal name)");
    assert!(db.is_first_party(branch, "Branch Metrics, Inc."));

    let (db, r) = load("ddg-android-tds.excerpt.json", Format::DdgTds);
    assert_eq!(r.entries, 12, "{r:?}");
    assert!(db.lookup("analytics.rayjump.com").org.is_some());
    let (_, r) = load("trackercontrol-ddg-tds.excerpt.json", Format::DdgTds);
    assert_eq!(r.entries, 10, "{r:?}");

    let (db, r) = load("ddg-radar-domain.miui.com.json", Format::DdgRadarDomain);
    assert_eq!(r.entries, 1);
    assert_eq!(org_of(&db, "font.sec.miui.com"), Some("Xiaomi"), "\"Xiaomi Corporation\" is the table's Xiaomi");
    let (db, r) = load("ddg-radar-entity.Xiaomi Corporation.json", Format::DdgRadarEntity);
    assert_eq!(r.entries, 19, "{r:?}");
    assert_eq!(r.orgs_added, 0);
    assert_eq!(org_of(&db, "www.poco.net"), Some("Xiaomi"));
}

#[test]
fn xray_companies() {
    let (db, r) = load("xray-blacklist.excerpt.json", Format::Xray);
    assert!(r.entries > 250, "{r:?}");
    // Lower-case countries and "uk" are normalised.
    let tradedesk = db.company("AdBrain").unwrap();
    assert_eq!(tradedesk.country.as_deref(), Some("GB"));
    assert_eq!(tradedesk.parent.as_deref(), Some("The Trade Desk"));
    // X-Ray's DoubleClick has root parent Alphabet, so it is first party to Google.
    let dc = db.lookup("doubleclick.net").org.unwrap();
    assert!(db.is_first_party(dc, "Google"), "{dc:?}");
    // X-Ray's AppsFlyer country "us" differs from the table's IL: the list wins.
    assert_eq!(db.lookup("appsflyer.com").org.unwrap().country.as_deref(), Some("US"));
}

#[test]
fn later_lists_win_and_reports_accumulate() {
    let a = b"0.0.0.0 t.example.org\n";
    let b = br#"{"categories":{"Analytics":[{"Example Inc":{"https://example.org/":["example.org"]}}]}}"#;
    let db = DomainDb::with_lists([ListSource::new("a", a).category(Category::Advertising), ListSource::new("b", b)])
        .unwrap();
    assert_eq!(db.lists().len(), 2);
    let info = db.lookup("t.example.org");
    // The most specific key (from list a) gives the category; the org comes from b's parent key.
    assert_eq!(info.category, Some(Category::Advertising));
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Example Inc"));
    assert_eq!(info.listed_in, Some("a"));
    assert_eq!(db.lookup("x.example.org").category, Some(Category::Analytics));
    // A user list that names an org for a table key replaces org and category together.
    let c = br#"{"entities":{"Someone Else":{"properties":["google-analytics.com"],"resources":[]}}}"#;
    let db = DomainDb::with_lists([ListSource::new("c", c)]).unwrap();
    let info = db.lookup("google-analytics.com");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Someone Else"));
    assert_eq!(info.category, None);
    assert!(info.source.unwrap().contains("user list c"));
    // The embedded table is untouched.
    assert_eq!(org_of(DomainDb::embedded(), "google-analytics.com"), Some("Google"));
}

#[test]
fn bad_input_is_an_error_or_counted() {
    let mut db = DomainDb::embedded().clone();
    assert!(matches!(db.add_list(ListSource::new("x", b"{\"nothing\": true}")), Err(ListError::Unrecognised(_))));
    assert!(matches!(
        db.add_list(ListSource::new("x", b"not json").format(Format::Ghostery)),
        Err(ListError::Shape { .. })
    ));
    let big = vec![b'a'; MAX_LIST_BYTES + 1];
    assert!(matches!(db.add_list(ListSource::new("x", &big)), Err(ListError::TooBig { .. })));
    // Public suffixes, single labels and junk are skipped, not merged.
    let r = db
        .add_list(ListSource::new("y", b"com\nco.uk\nlocalhost\nexample..com\nfine.example.com\n\xff\xfe.com\n"))
        .unwrap();
    assert_eq!((r.entries, r.skipped_suffix, r.skipped_invalid), (1, 3, 2), "{r:?}");
    assert!(db.lookup("a.com").listed_in.is_none(), "com was not added as a key");
    assert_eq!(db.stats().lists, 1, "failed loads are not recorded");
}
