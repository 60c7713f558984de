//! `phonehome data`: what attribution uses, where it comes from and under which licence.

use std::fmt::Write as _;

use phonehome_attribute::domain::{DomainDb, PSL_VERSION};
use phonehome_attribute::ip::DataSource;

/// The text `phonehome data` prints: each address table's source facts (embedded header or
/// the user's file metadata), then the name table and the user's lists.
pub fn render(ip: &[DataSource], domains: &DomainDb) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Address data (country and AS of each server address)");
    for src in ip {
        match &src.file {
            None => {
                let _ = writeln!(s, "  {} (embedded):", src.table);
            }
            Some(path) => {
                let _ = writeln!(s, "  {} (from {}):", src.table, path.display());
            }
        }
        for (k, v) in &src.facts {
            let _ = writeln!(s, "    {k}: {v}");
        }
    }
    let st = domains.stats();
    let _ = writeln!(s, "\nName data (registrable domain, owning organisation, category)");
    let _ = writeln!(s, "  public suffix list: {PSL_VERSION} (Mozilla Public License 2.0, publicsuffix.org)");
    let _ = writeln!(
        s,
        "  organisation table (embedded, written by the project from public facts, one source per entry; \
         Apache-2.0 OR MIT, host names from MIT-licensed lists noted in NOTICE):"
    );
    let _ = writeln!(s, "    organisations: {}", st.orgs);
    let _ = writeln!(s, "    names: {}", st.names);
    let _ = writeln!(s, "    cloud tenant rules: {}", st.tenant_rules);
    for list in domains.lists() {
        let _ = writeln!(
            s,
            "  list {} ({}{}): {} names, {} organisations added, skipped {} invalid, {} suffixes, {} rules, {} canaries, {} over the cap",
            list.name,
            list.format.as_str(),
            if list.reversed { ", reversed" } else { "" },
            list.entries,
            list.orgs_added,
            list.skipped_invalid,
            list.skipped_suffix,
            list.skipped_rules,
            list.skipped_canary,
            list.truncated,
        );
    }
    let _ = writeln!(
        s,
        "\nCountries are where an address block is registered or announced, not a measured \
         location; an organisation's country is its headquarters. Attribution notices: NOTICE."
    );
    s
}
