//! Names from real captures attributed by the embedded table; hostile names; first and third
//! party; the table's own rules.
//!
//! The host names are copied from the shared corpus (tshark's DNS/SNI/Host values in
//! `truth/ndpi/*.tsv`, and for `ndpi/xiaomi.pcap` the names its MiPush flows carry in
//! clear: nDPI's expected results show them as `Hostname/SNI`), so the tests do not need the
//! corpus to be present.

use phonehome_attribute::domain::{Category, DomainDb, MAX_NAME};

/// (host, company, category, registrable)
fn check(host: &str, company: &str, category: Category, registrable: &str) {
    let db = DomainDb::embedded();
    let info = db.lookup(host);
    let org = info.org.unwrap_or_else(|| panic!("{host}: no organisation ({info:?})"));
    assert_eq!(org.name, company, "{host}");
    assert_eq!(info.category, Some(category), "{host}");
    assert_eq!(info.registrable.as_deref(), Some(registrable), "{host}");
    assert!(info.source.is_some_and(|s| !s.is_empty()), "{host}: a source note");
}

#[test]
fn ndpi_xiaomi_pcap_names_are_xiaomi() {
    // The HTTPDNS request's host parameter, and the XMPP-like MiPush stanzas' domain.
    check("appmarket.micloud.xiaomi.net", "Xiaomi", Category::FirstPartyService, "xiaomi.net");
    check("xiaomi.com", "Xiaomi", Category::FirstPartyService, "xiaomi.com");
    // The MiPush flows' names are AWS load balancers that Xiaomi named after its push host.
    for elb in [
        "fr-app-chat-global-xiaomi-net1-1667981913.eu-central-1.elb.amazonaws.com",
        "fr-app-chat-global-xiaomi-net2-2117517874.eu-central-1.elb.amazonaws.com",
    ] {
        let info = DomainDb::embedded().lookup(elb);
        assert_eq!(info.org.map(|o| o.name.as_str()), Some("Xiaomi"), "{elb}");
        assert_eq!(info.category, Some(Category::Push));
        assert!(info.by_tenant_label);
        assert_eq!(info.registrable.as_deref(), Some("amazonaws.com"), "the registrable domain is the cloud's");
        assert_eq!(info.org.unwrap().country.as_deref(), Some("CN"));
    }
    // Another tenant's load balancer stays Amazon's.
    let other = DomainDb::embedded().lookup("my-shop-123.eu-central-1.elb.amazonaws.com");
    assert_eq!(other.org.map(|o| o.name.as_str()), Some("Amazon"));
    assert_eq!(other.category, Some(Category::CdnCloud));
    assert!(!other.by_tenant_label);
    // A token must be a whole token: "notxiaomi" is not Xiaomi.
    let lookalike = DomainDb::embedded().lookup("notxiaomi-1.eu-central-1.elb.amazonaws.com");
    assert_eq!(lookalike.org.map(|o| o.name.as_str()), Some("Amazon"));
    // MIUI telemetry (NextDNS list) is more specific than the company's service domain.
    check("data.mistat.intl.xiaomi.com", "Xiaomi", Category::VendorTelemetry, "xiaomi.com");
    check("tracking.intl.miui.com", "Xiaomi", Category::VendorTelemetry, "miui.com");
    check("api.ad.xiaomi.com", "Xiaomi", Category::Advertising, "xiaomi.com");
}

#[test]
fn ndpi_1kxun_pcap_names_have_their_owners() {
    check("mangaweb.1kxun.mobi", "1kxun", Category::FirstPartyService, "1kxun.mobi");
    check("pic.1kxun.com", "1kxun", Category::FirstPartyService, "1kxun.com");
    check("android.yingshi.tcclick.1kxun.com", "1kxun", Category::Analytics, "1kxun.com");
    check("release.bigdata.1kxun.com", "1kxun", Category::Analytics, "1kxun.com");
    check("vv.video.qq.com", "Tencent", Category::FirstPartyService, "qq.com");
    check("pingma.qq.com", "Tencent", Category::Analytics, "qq.com");
    check("qzonestyle.gtimg.cn", "Tencent", Category::FirstPartyService, "gtimg.cn");
    for h in
        ["setting.rayjump.com", "hybird.rayjump.com", "adx-tk.rayjump.com", "analytics.rayjump.com", "de01.rayjump.com"]
    {
        check(h, "Mintegral", Category::Advertising, "rayjump.com");
    }
    let mintegral = DomainDb::embedded().lookup("net.rayjump.com").org.unwrap();
    assert_eq!(mintegral.parent.as_deref(), Some("Mobvista"));
    assert_eq!(mintegral.country.as_deref(), Some("CN"));
    check("dl-obs.official.line.naver.jp", "LINE", Category::FirstPartyService, "naver.jp");
    for h in ["click.liftoff.io", "cdn.liftoff.io", "impression-east.liftoff.io", "adexp.liftoff.io"] {
        check(h, "Liftoff", Category::Advertising, "liftoff.io");
    }
    check("tw.api.vpon.com", "Vpon", Category::Advertising, "vpon.com");
    check("www.google-analytics.com", "Google", Category::Analytics, "google-analytics.com");
    check("pagead2.googlesyndication.com", "Google", Category::Advertising, "googlesyndication.com");
    check("www.googletagservices.com", "Google", Category::Advertising, "googletagservices.com");
    check("play.google.com", "Google", Category::FirstPartyService, "google.com");
    // Names we could not attribute from public facts stay unattributed.
    let unknown = DomainDb::embedded().lookup("api.magicansoft.com");
    assert_eq!(unknown.org, None);
    assert_eq!(unknown.registrable.as_deref(), Some("magicansoft.com"));
}

#[test]
fn other_corpus_names() {
    check("ssl.google-analytics.com", "Google", Category::Analytics, "google-analytics.com");
    check("app-measurement.com", "Google", Category::Analytics, "app-measurement.com");
    check("settings.crashlytics.com", "Google", Category::CrashReporting, "crashlytics.com");
    check("mtalk.google.com", "Google", Category::Push, "google.com");
    check("adservice.google.com", "Google", Category::Advertising, "google.com");
    check("www.google.com.br", "Google", Category::FirstPartyService, "google.com.br");
    check("czfe105.front01.iad01.production.nest.com", "Google", Category::FirstPartyService, "nest.com");
    check("weave-logsink.nest.com", "Google", Category::VendorTelemetry, "nest.com");
    check("cres.waze.com", "Google", Category::FirstPartyService, "waze.com");
    check("feelinsonice-hrd.appspot.com", "Snap", Category::FirstPartyService, "appspot.com");
    check("app.adjust.com", "Adjust", Category::Analytics, "adjust.com");
    check("e12.whatsapp.net", "WhatsApp", Category::FirstPartyService, "whatsapp.net");
    check("mmg-fna.whatsapp.net", "WhatsApp", Category::FirstPartyService, "whatsapp.net");
    check("graph.facebook.com", "Meta", Category::FirstPartyService, "facebook.com");
    check("connect.facebook.net", "Meta", Category::Advertising, "facebook.net");
    check("scontent-mxp1-1.cdninstagram.com", "Meta", Category::FirstPartyService, "cdninstagram.com");
    check("alexa.amazon.com", "Amazon", Category::FirstPartyService, "amazon.com");
    check("device-metrics-us.amazon.com", "Amazon", Category::VendorTelemetry, "amazon.com");
    check("aax-eu.amazon-adsystem.com", "Amazon", Category::Advertising, "amazon-adsystem.com");
    check("mobileanalytics.us-east-1.amazonaws.com", "Amazon", Category::Analytics, "amazonaws.com");
    check("s3-external-2.amazonaws.com", "Amazon", Category::CdnCloud, "amazonaws.com");
    check("gsp85-ssl.ls.apple.com", "Apple", Category::FirstPartyService, "apple.com");
    check("p26-keyvalueservice.icloud.com", "Apple", Category::FirstPartyService, "icloud.com");
    check("metrics.icloud.com", "Apple", Category::VendorTelemetry, "icloud.com");
    check("mobile.pipe.aria.microsoft.com", "Microsoft", Category::VendorTelemetry, "microsoft.com");
    check("v10.events.data.microsoft.com", "Microsoft", Category::VendorTelemetry, "microsoft.com");
    check("gate.hockeyapp.net", "Microsoft", Category::CrashReporting, "hockeyapp.net");
    check("in.appcenter.ms", "Microsoft", Category::CrashReporting, "appcenter.ms");
    check("api.eu01.capptain.com", "Microsoft", Category::Analytics, "capptain.com");
    check("b-tr-teams-euno-05.northeurope.cloudapp.azure.com", "Microsoft", Category::CdnCloud, "azure.com");
    check("katalk.kakao.com", "Kakao", Category::FirstPartyService, "kakao.com");
    check("uts-front.line-apps.com", "LINE", Category::FirstPartyService, "line-apps.com");
    check("log.mmstat.com", "Alibaba", Category::Analytics, "mmstat.com");
    check("beacon-api.aliyuncs.com", "Alibaba Cloud", Category::CdnCloud, "aliyuncs.com");
    check("conn-service-eu-04.allawnos.com", "OPPO", Category::FirstPartyService, "allawnos.com");
    check("data-detect.nie.easebar.com", "NetEase", Category::Analytics, "easebar.com");
    check("sb.scorecardresearch.com", "Comscore", Category::Analytics, "scorecardresearch.com");
    check("sessions.bugsnag.com", "Bugsnag", Category::CrashReporting, "bugsnag.com");
    check("venetia.iad.appboy.com", "Braze", Category::Analytics, "appboy.com");
    check("cp.pushwoosh.com", "Pushwoosh", Category::Push, "pushwoosh.com");
    check(
        "e0d67c509fb203858ebcb2fe3f88c2aa.baas.nintendo.com",
        "Nintendo",
        Category::FirstPartyService,
        "nintendo.com",
    );
    check("us.scan.worldofwarcraft.com", "Blizzard Entertainment", Category::FirstPartyService, "worldofwarcraft.com");
    check("e4518.dscx.akamaiedge.net", "Akamai", Category::CdnCloud, "akamaiedge.net");
    check("xtra1.gpsonextra.net", "Qualcomm", Category::FirstPartyService, "gpsonextra.net");
    check("captive.apple.com.edgekey.net", "Akamai", Category::CdnCloud, "edgekey.net");
    let info = DomainDb::embedded().lookup("d1234abcd.cloudfront.net");
    assert_eq!(info.org.map(|o| o.name.as_str()), Some("Amazon"));
    assert_eq!(info.registrable.as_deref(), Some("cloudfront.net"));
    assert_eq!(info.hosted.as_deref(), Some("d1234abcd.cloudfront.net"));
}

#[test]
fn parents_and_countries() {
    let db = DomainDb::embedded();
    let google = db.lookup("google.com").org.unwrap();
    assert_eq!((google.parent.as_deref(), google.country.as_deref()), (Some("Alphabet"), Some("US")));
    assert_eq!(google.legal_name.as_deref(), Some("Google LLC"));
    let wa = db.lookup("whatsapp.net").org.unwrap();
    assert_eq!(wa.parent.as_deref(), Some("Meta"));
    let adjust = db.lookup("adjust.com").org.unwrap();
    assert_eq!((adjust.parent.as_deref(), adjust.country.as_deref()), (Some("AppLovin"), Some("DE")));
    let samsung = db.lookup("nmetrics.samsung.com").org.unwrap();
    assert_eq!(samsung.country.as_deref(), Some("KR"));
    let umeng = db.lookup("alog.umeng.com").org.unwrap();
    assert_eq!((umeng.parent.as_deref(), umeng.country.as_deref()), (Some("Alibaba"), Some("CN")));
    let moto = db.lookup("motorola.com").org.unwrap();
    assert_eq!((moto.parent.as_deref(), moto.country.as_deref()), (Some("Lenovo"), Some("US")));
    let one = db.lookup("oneplus.com").org.unwrap();
    assert_eq!(one.parent.as_deref(), Some("OPPO"));
}

#[test]
fn first_and_third_party() {
    let db = DomainDb::embedded();
    let org = |host: &str| db.lookup(host).org.unwrap_or_else(|| panic!("{host}"));
    let mi = org("data.mistat.xiaomi.com");
    for vendor in ["Xiaomi", "xiaomi", "XIAOMI", "Xiaomi Corporation", "MIUI", "Redmi", "POCO", "HyperOS"] {
        assert!(db.is_first_party(mi, vendor), "{vendor}");
    }
    for vendor in ["Huawei", "Google", "Samsung", "", "   ", "Acme Phones"] {
        assert!(!db.is_first_party(mi, vendor), "{vendor}");
    }
    assert!(!db.is_first_party(org("google-analytics.com"), "Xiaomi"));
    assert!(db.is_first_party(org("google-analytics.com"), "Google LLC"));
    assert!(db.is_first_party(org("weave-logsink.nest.com"), "Google Nest"));
    assert!(db.is_first_party(org("e12.whatsapp.net"), "Meta"));
    assert!(db.is_first_party(org("graph.facebook.com"), "WhatsApp"), "same top parent");
    assert!(db.is_first_party(org("lenovo.com"), "Motorola"));
    assert!(db.is_first_party(org("motorola.com"), "Lenovo"));
    // OPPO, OnePlus and realme are one family (see docs/ATTRIBUTION.md); vivo is not in it.
    let heytap = org("conn-service-eu-04.allawnos.com");
    for vendor in ["OPPO", "OnePlus", "realme", "ColorOS", "OxygenOS"] {
        assert!(db.is_first_party(heytap, vendor), "{vendor}");
    }
    assert!(!db.is_first_party(heytap, "vivo"));
    assert!(db.is_first_party(org("vivo.com"), "iQOO"), "iQOO is vivo's");
    // Honor left Huawei in 2020.
    assert!(!db.is_first_party(org("hicloud.com"), "Honor"));
    assert!(db.is_first_party(org("hicloud.com"), "Huawei Technologies Co., Ltd."));
    // Alibaba's cloud and Umeng are Alibaba's; an app by Alibaba calling Umeng is first party.
    assert!(db.is_first_party(org("alog.umeng.com"), "Alibaba Group"));
    assert!(db.is_first_party(org("iot-as-mqtt.cn-shanghai.aliyuncs.com"), "Taobao"));
    assert!(db.is_first_party(org("api.tuyaus.com"), "Tuya Smart"));
    assert!(!db.is_first_party(org("api.tuyaus.com"), "Smart Home Brand X"));
}

#[test]
fn company_aliases() {
    let db = DomainDb::embedded();
    assert_eq!(db.company("Redmi").map(|o| o.name.as_str()), Some("Xiaomi"));
    assert_eq!(db.company("Huawei Technologies Co., Ltd.").map(|o| o.name.as_str()), Some("Huawei"));
    assert_eq!(db.company("Infinix").map(|o| o.name.as_str()), Some("Transsion"));
    assert_eq!(db.company("Meta Platforms, Inc.").map(|o| o.name.as_str()), Some("Meta"));
    assert_eq!(db.company("nobody in particular"), None);
}

#[test]
fn hostile_names_are_empty_answers() {
    let db = DomainDb::embedded();
    let long_label = format!("{}.xiaomi.com", "a".repeat(64));
    let long_name = format!("{}xiaomi.com", "a.".repeat(200));
    let many_dots = ".".repeat(10_000);
    let huge = "x".repeat(1 << 20);
    for h in [
        "",
        ".",
        "...",
        "1.2.3.4",
        "10.0.0.1.",
        "::1",
        "[2001:db8::1]",
        "[::1]:443",
        "fe80::1%eth0",
        "google.com:abc",
        "google.com:443:1",
        "a..google.com",
        ".google.com",
        "goo gle.com",
        "google.com\0",
        "xiaomi.com/evil",
        "%78iaomi.com",
        "*.xiaomi.com",
        "in-a\u{1a}dr.arpa",
        "c{ber[itm.dk",
        &long_label,
        &long_name,
        &many_dots,
        &huge,
        "\u{feff}google.com",
    ] {
        let info = db.lookup(h);
        assert_eq!(info, Default::default(), "{:?}", &h[..h.len().min(60)]);
    }
    // Normalisation: case, trailing dots, ports.
    let info = db.lookup("WWW.GOOGLE-ANALYTICS.COM..");
    assert_eq!(info.registrable.as_deref(), Some("google-analytics.com"));
    assert_eq!(db.lookup("app.adjust.com:443").org.map(|o| o.name.as_str()), Some("Adjust"));
    // Bare public suffixes and unknown suffixes: no registrable domain, nothing matched.
    for h in ["com", "co.uk", "com.cn.", "router.lan", "pirate.sea", "dnscat.002101f500f5ebc7cddf"] {
        let info = db.lookup(h);
        assert_eq!(info.registrable, None, "{h}");
        assert_eq!(info.org, None, "{h}");
    }
    // A name that carries a known name inside an unknown suffix (a resolver's search domain)
    // is not that company's.
    assert_eq!(db.lookup("ssl.gstatic.com.lan").org, None);
}

/// Random strings over a host-ish alphabet plus hostile bytes: no panic, and answers are
/// consistent (an organisation implies a matched key that is a suffix of the name).
#[test]
fn pseudo_random_names_never_panic() {
    let db = DomainDb::embedded();
    let alphabet: Vec<char> = "abcxyz019-_.:[]%* \u{0}\u{7f}é日.XIAOMIgoogle".chars().collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let suffixes = ["", ".com", ".xiaomi.com", ".amazonaws.com", ".co.uk", ".elb.amazonaws.com", "."];
    for _ in 0..50_000 {
        let len = (next() % 300) as usize;
        let mut s: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        s.push_str(suffixes[(next() % suffixes.len() as u64) as usize]);
        let info = db.lookup(&s);
        if let Some(r) = &info.registrable {
            assert!(r.len() <= MAX_NAME);
            assert!(s.to_ascii_lowercase().contains(r.as_str()), "{s:?} -> {r:?}");
        }
        if info.org.is_some() && !info.by_tenant_label {
            let m = info.matched.expect("matched key");
            assert!(s.to_ascii_lowercase().trim_end_matches('.').ends_with(m), "{s:?} -> {m:?}");
        }
    }
}
