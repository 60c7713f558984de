//! Organisations, categories and the embedded table's file format.

use serde::{Deserialize, Serialize};

/// What an endpoint is for, from the device owner's point of view. One value per table entry;
/// the names (snake_case) are the output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The device maker's or OS vendor's own data collection (usage statistics, logs, device
    /// registration, "experience improvement" programmes).
    VendorTelemetry,
    /// Usage analytics and attribution SDKs (Google Analytics, Firebase Analytics, Umeng,
    /// AppsFlyer, Adjust, Branch).
    Analytics,
    /// Ad serving, ad exchanges, ad measurement.
    Advertising,
    /// Crash and error reporting (Crashlytics, Bugsnag, Sentry).
    CrashReporting,
    /// Push notification channels (FCM, MiPush, HMS Push, APNs).
    Push,
    /// Content delivery and cloud hosting: the company runs servers for others, so the name
    /// says little about who receives the data.
    CdnCloud,
    /// A service the user asked for from that company (mail, maps, app store, messaging,
    /// video, accounts, updates).
    FirstPartyService,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 7] = [
        Category::VendorTelemetry,
        Category::Analytics,
        Category::Advertising,
        Category::CrashReporting,
        Category::Push,
        Category::CdnCloud,
        Category::FirstPartyService,
    ];

    /// The snake_case name used in output and in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::VendorTelemetry => "vendor_telemetry",
            Category::Analytics => "analytics",
            Category::Advertising => "advertising",
            Category::CrashReporting => "crash_reporting",
            Category::Push => "push",
            Category::CdnCloud => "cdn_cloud",
            Category::FirstPartyService => "first_party_service",
        }
    }

    /// Parses the snake_case name (also accepted: `-` for `_`, any case).
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A company that owns host names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// Display name ("Xiaomi", "Google").
    pub name: String,
    /// Registered legal name where known ("Xiaomi Corporation").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    /// Display name of the parent company ("Alphabet" for Google), if any.
    pub parent: Option<String>,
    /// The company's home country (headquarters), ISO 3166-1 alpha-2, upper case. Not where
    /// its servers are: that is the address half's job.
    pub country: Option<String>,
    /// Where the facts about the company come from: a URL for embedded entries, or the
    /// user's list that named it.
    pub source: String,
    /// Index of the top of this company's parent chain; companies with the same family are
    /// first party to each other.
    #[serde(skip)]
    pub(crate) family: u32,
}

/// A key for comparing company names across lists: letters and digits only, lower case, and
/// generic legal-form words dropped ("Xiaomi Corporation", "xiaomi corp." and "XIAOMI" agree;
/// "Huawei Technologies Co., Ltd." becomes "huawei technologies", which the table lists as an
/// alias of Huawei).
pub(crate) fn company_key(name: &str) -> String {
    const FORMS: &[&str] = &[
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "lp",
        "co",
        "corp",
        "corporation",
        "company",
        "gmbh",
        "ag",
        "sa",
        "se",
        "plc",
        "bv",
        "nv",
        "pte",
        "pty",
        "kk",
        "oy",
        "ab",
        "srl",
        "spa",
        "sas",
        "as",
        "the",
    ];
    let lower = name.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty() && !FORMS.contains(w)).collect();
    words.join(" ")
}

/// The embedded table as written in `data/orgs/orgs.toml` (see its header for the rules).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableFile {
    #[serde(rename = "company")]
    pub companies: Vec<CompanyRow>,
    #[serde(rename = "names")]
    pub names: Vec<NamesRow>,
    #[serde(rename = "tenant", default)]
    pub tenants: Vec<TenantRow>,
}

/// One company.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompanyRow {
    pub id: String,
    pub name: String,
    pub legal_name: Option<String>,
    /// `id` of the parent company.
    pub parent: Option<String>,
    pub country: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub source: String,
    /// Why a parent was or was not set, where that is a judgement (documentation only).
    #[serde(default)]
    #[allow(dead_code)]
    pub note: Option<String>,
}

/// A group of names one company uses for one purpose.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamesRow {
    pub company: String,
    pub category: Category,
    pub source: String,
    pub domains: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub note: Option<String>,
}

/// A cloud customer recognised by a token of its host label (see `DomainDb::lookup`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantRow {
    /// Cloud suffix the name must end with, after a dot (`elb.amazonaws.com`).
    pub cloud: String,
    /// A `-`-separated token that must appear in the name's first label (`xiaomi`).
    pub token: String,
    pub company: String,
    pub category: Category,
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_keys_agree_across_spellings() {
        assert_eq!(company_key("Xiaomi Corporation"), "xiaomi");
        assert_eq!(company_key("XIAOMI"), "xiaomi");
        assert_eq!(company_key("Huawei Technologies Co., Ltd."), "huawei technologies");
        assert_eq!(company_key("Meta Platforms, Inc."), "meta platforms");
        assert_eq!(company_key("Google LLC"), "google");
        assert_eq!(company_key("  "), "");
    }

    #[test]
    fn categories_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert_eq!(Category::parse("CDN-Cloud"), Some(Category::CdnCloud));
        assert_eq!(Category::parse("social"), None);
    }
}
