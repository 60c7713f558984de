//! The embedded table's coverage and the rules `DomainDb::from_table` enforces.

use phonehome_attribute::domain::{Category, DomainDb};

#[test]
fn covers_the_makers_and_sdks_issue_5_names() {
    let db = DomainDb::embedded();
    // (a name the company uses, the company, its home country)
    for (host, company, country) in [
        ("api.io.mi.com", "Xiaomi", "CN"),
        ("metrics1.data.hicloud.com", "Huawei", "CN"),
        ("store.heytap.com", "OPPO", "CN"),
        ("oneplus.com", "OnePlus", "CN"),
        ("realme.com", "realme", "CN"),
        ("vivo.com.cn", "vivo", "CN"),
        ("samsungcloudsolution.com", "Samsung", "KR"),
        ("tecno-mobile.com", "Transsion", "CN"),
        ("lenovo.com", "Lenovo", "CN"),
        ("motorola.com", "Motorola", "US"),
        ("a1.tuyaeu.com", "Tuya", "CN"),
        ("g.alicdn.com", "Alibaba", "CN"),
        ("iot-as-mqtt.cn-shanghai.aliyuncs.com", "Alibaba Cloud", "CN"),
        ("res.wx.qq.com", "Tencent", "CN"),
        ("hm.baidu.com", "Baidu", "CN"),
        ("log.byteoversea.com", "ByteDance", "CN"),
        ("alog.umeng.com", "Umeng", "CN"),
        ("firebaseinstallations.googleapis.com", "Google", "US"),
        ("graph.instagram.com", "Meta", "US"),
        ("avs-alexa-na.amazon.com", "Amazon", "US"),
        ("gateway.icloud.com", "Apple", "US"),
        ("settings-win.data.microsoft.com", "Microsoft", "US"),
        ("t.appsflyer.com", "AppsFlyer", "IL"),
        ("app.adjust.com", "Adjust", "DE"),
        ("api2.branch.io", "Branch", "US"),
    ] {
        let org = db.lookup(host).org.unwrap_or_else(|| panic!("{host}"));
        assert_eq!((org.name.as_str(), org.country.as_deref()), (company, Some(country)), "{host}");
        assert!(!org.source.is_empty());
    }
    let stats = db.stats();
    assert!(stats.orgs >= 80 && stats.names >= 700, "{stats:?}");
    // Every category is used somewhere.
    for c in Category::ALL {
        let used = [
            "ad.xiaomi.com",
            "google-analytics.com",
            "tracking.miui.com",
            "crashlytics.com",
            "mtalk.google.com",
            "cloudfront.net",
            "google.com",
        ]
        .iter()
        .any(|h| db.lookup(h).category == Some(c));
        assert!(used, "{c}");
    }
}

const COMPANY: &str = "[[company]]\nid = \"a\"\nname = \"A\"\ncountry = \"US\"\nsource = \"s\"\n";

fn table(names: &str) -> String {
    format!("{COMPANY}\n[[names]]\ncompany = \"a\"\ncategory = \"analytics\"\nsource = \"s\"\ndomains = [{names}]\n")
}

#[test]
fn table_rules_are_enforced() {
    assert!(DomainDb::from_table(&table("\"a.example\", \"b.example\"")).is_ok());
    for bad in [
        "\"com\"",
        "\"co.uk\"",
        "\"localhost\"",
        "\"A.example\"",
        "\"a.example.\"",
        "\"a.example\", \"a.example\"",
        "\"1.2.3.4\"",
        "\"a b.example\"",
    ] {
        assert!(DomainDb::from_table(&table(bad)).is_err(), "{bad}");
    }
    let unknown = table("\"a.example\"").replace("company = \"a\"\ncategory", "company = \"b\"\ncategory");
    assert!(DomainDb::from_table(&unknown).is_err());
    let bad_country = table("\"a.example\"").replace("country = \"US\"", "country = \"usa\"");
    assert!(DomainDb::from_table(&bad_country).is_err());
    let no_source = table("\"a.example\"").replacen("source = \"s\"", "source = \" \"", 1);
    assert!(DomainDb::from_table(&no_source).is_err());
    let cycle = "[[company]]\nid = \"a\"\nname = \"A\"\nparent = \"b\"\nsource = \"s\"\n[[company]]\nid = \"b\"\nname = \"B\"\nparent = \"a\"\nsource = \"s\"\n[[names]]\ncompany = \"a\"\ncategory = \"push\"\nsource = \"s\"\ndomains = []\n";
    assert!(DomainDb::from_table(cycle).is_err());
    let unknown_field = format!("{}\nextra = 1\n", table("\"a.example\""));
    assert!(DomainDb::from_table(&unknown_field).is_err());
    let bad_category = table("\"a.example\"").replace("\"analytics\"", "\"social\"");
    assert!(DomainDb::from_table(&bad_category).is_err());
}
