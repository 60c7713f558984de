//! `phonehome diff --format html`: the comparison of two runs as one self-contained page, made
//! like the report (same head, policy and style sheet; no script; everything from the runs
//! through [`esc`]): a headline answering "does it still send identifiers?", the
//! identifiers per destination with their counts before and after, and the organisations,
//! server countries and destinations that appeared or disappeared.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{count, countries, esc, page_end, page_start};
use crate::diff::{Change, Diff, IdentifierChange};

/// How a pair changed, for sorting and the tag shown.
fn status(c: &IdentifierChange) -> (u8, &'static str, &'static str) {
    match (c.before, c.after) {
        (0, _) => (0, "tag tp", "now sent"),
        (_, 0) => (1, "tag fp", "no longer sent"),
        (b, a) if a > b => (2, "tag", "more often"),
        (b, a) if a < b => (2, "tag", "less often"),
        _ => (2, "tag", "as often"),
    }
}

/// The whole page.
pub fn render(d: &Diff) -> String {
    let mut h = String::with_capacity(32 << 10);
    let side = |names: &[String]| match names {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [one, rest @ ..] => format!("{one} and {} more", rest.len()),
    };
    page_start(&mut h, &format!("phonehome diff: {} → {}", side(&d.before), side(&d.after)));
    let _ = writeln!(
        h,
        "<header>\n<h1>What changed between two runs</h1>\n<p class=\"lede\">{}</p>\n\
         <p class=\"muted\">Before: <span class=\"mono\">{}</span>. After: <span class=\"mono\">{}</span>.</p>\n</header>",
        headline(d),
        esc(&d.before.join(", ")),
        esc(&d.after.join(", "))
    );
    h.push_str(
        "<nav aria-label=\"Contents\"><ol>\
         <li><a href=\"#overview\">Overview</a></li>\
         <li><a href=\"#identifiers\">Identifiers by destination</a></li>\
         <li><a href=\"#organisations\">Organisations</a></li>\
         <li><a href=\"#countries\">Countries</a></li>\
         <li><a href=\"#destinations\">Destinations</a></li>\
         <li><a href=\"#methods\">How runs are compared</a></li>\
         </ol></nav>\n<main>\n",
    );
    overview(&mut h, d);
    identifiers(&mut h, d);
    for (id, title, c, what) in [
        ("organisations", "Organisations", &d.organisations, "owners of the servers (HQ country when known)"),
        ("countries", "Server countries", &d.server_countries, "server countries (owners of the servers there)"),
        ("destinations", "Destinations", &d.destinations, "servers by host name, else address [owner, server country]"),
    ] {
        changes(&mut h, id, title, c, what);
    }
    methods(&mut h);
    page_end(&mut h);
    h
}

/// "The device sends identifiers after the change: …" (escaped HTML).
fn headline(d: &Diff) -> String {
    let (mut new, mut gone, mut kept) = (0u64, 0u64, 0u64);
    for c in &d.identifiers {
        match status(c).0 {
            0 => new += 1,
            1 => gone += 1,
            _ => kept += 1,
        }
    }
    let pairs = |n| count(n, "identifier–destination pair", "identifier–destination pairs");
    let mut s = if new + kept > 0 {
        format!(
            "The device sends identifiers after the change: {} now sent, {kept} still sent, {gone} no longer sent.",
            pairs(new)
        )
    } else if gone > 0 {
        format!("No identifier is sent any more: {} no longer sent.", pairs(gone))
    } else {
        "No identifier was found, before or after.".to_string()
    };
    let dest = &d.destinations;
    let _ = write!(
        s,
        " {} appeared, {} disappeared.",
        count(dest.appeared.len() as u64, "destination", "destinations"),
        dest.disappeared.len()
    );
    s
}

fn overview(h: &mut String, d: &Diff) {
    h.push_str("<section id=\"overview\" aria-labelledby=\"overview-h\">\n<h2 id=\"overview-h\">Overview</h2>\n");
    let by = |rank: u8| d.identifiers.iter().filter(|c| status(c).0 == rank).count();
    h.push_str("<div class=\"figures\">\n");
    for (n, what) in [
        (by(0), "identifier–destination pairs now sent"),
        (by(1), "no longer sent"),
        (by(2), "still sent"),
        (d.organisations.appeared.len(), "organisations appeared"),
        (d.organisations.disappeared.len(), "organisations disappeared"),
        (d.server_countries.appeared.len(), "server countries appeared"),
        (d.server_countries.disappeared.len(), "server countries disappeared"),
        (d.destinations.appeared.len(), "destinations appeared"),
        (d.destinations.disappeared.len(), "destinations disappeared"),
    ] {
        let _ = writeln!(h, "<div class=\"figure\"><b>{n}</b><span>{what}</span></div>");
    }
    h.push_str("</div>\n");
    h.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Run</th><th scope=\"col\">Inputs</th></tr></thead>\n<tbody>\n",
    );
    for (run, names) in [("Before", &d.before), ("After", &d.after)] {
        let _ =
            writeln!(h, "<tr><th scope=\"row\">{run}</th><td class=\"mono wrap\">{}</td></tr>", esc(&names.join(", ")));
    }
    h.push_str("</tbody></table></div>\n</section>\n");
}

/// Identifier changes grouped by destination: destinations with identifiers now sent first.
fn identifiers(h: &mut String, d: &Diff) {
    h.push_str(
        "<section id=\"identifiers\" aria-labelledby=\"identifiers-h\">\n\
         <h2 id=\"identifiers-h\">Identifiers by destination</h2>\n",
    );
    if d.identifiers.is_empty() {
        h.push_str("<p>No identifier of the device was found in what it sent, before or after.</p>\n</section>\n");
        return;
    }
    let mut groups: BTreeMap<&str, Vec<&IdentifierChange>> = BTreeMap::new();
    for c in &d.identifiers {
        groups.entry(c.destination.as_str()).or_default().push(c);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    let rank = |v: &[&IdentifierChange]| v.iter().map(|c| status(c).0).min().unwrap_or(2);
    groups.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then_with(|| a.0.cmp(b.0)));
    h.push_str(
        "<p>Each identifier of the device sent to a destination, with how often it was found in each run. \
         Counts are findings (one per place an identifier was found).</p>\n\
         <div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Identifier</th><th scope=\"col\">How found</th>\
         <th scope=\"col\" class=\"num\">Before</th><th scope=\"col\" class=\"num\">After</th>\
         <th scope=\"col\">Change</th></tr></thead>\n<tbody>\n",
    );
    for (dest, mut list) in groups {
        list.sort_by(|a, b| status(a).0.cmp(&status(b).0).then_with(|| a.identifier.cmp(&b.identifier)));
        let _ = writeln!(
            h,
            "<tr class=\"grp\"><th scope=\"rowgroup\" colspan=\"5\"><span class=\"mono\">{}</span> \
             <span class=\"muted\">{}</span></th></tr>",
            esc(dest),
            esc(&list[0].owner)
        );
        for c in list {
            let (_, class, word) = status(c);
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td><span class=\"{class}\">{word}</span></td></tr>",
                esc(&c.identifier),
                if c.declared { "declared" } else { "by key and shape" },
                c.before,
                c.after,
            );
        }
    }
    h.push_str("</tbody></table></div>\n</section>\n");
}

/// What appeared and disappeared in one table of the diff.
fn changes(h: &mut String, id: &str, title: &str, c: &Change, what: &str) {
    let _ = writeln!(h, "<section id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">{title}</h2>");
    let _ = writeln!(
        h,
        "<p>{} appeared, {} disappeared, {} in both runs; {what}.</p>",
        c.appeared.len(),
        c.disappeared.len(),
        c.unchanged
    );
    for (head, class, items) in [("Appeared", "tp", &c.appeared), ("Disappeared", "fp", &c.disappeared)] {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{head} ({})</h3>\n<ul>", items.len());
        for item in items {
            let shown = if id == "countries" { country_item(item) } else { item.clone() };
            let _ = writeln!(
                h,
                "<li><span class=\"tag {class}\">{}</span> <span class=\"mono\">{}</span></li>",
                if class == "tp" { "+" } else { "−" },
                esc(&shown)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

/// `SG (Xiaomi)` → `SG Singapore (Xiaomi)`.
fn country_item(item: &str) -> String {
    let (code, rest) = item.split_once(' ').unwrap_or((item, ""));
    match countries::name(code) {
        Some(n) if rest.is_empty() => format!("{code} {n}"),
        Some(n) => format!("{code} {n} {rest}"),
        None => item.to_string(),
    }
}

fn methods(h: &mut String) {
    h.push_str(
        "<section id=\"methods\" aria-labelledby=\"methods-h\">\n<h2 id=\"methods-h\">How runs are compared</h2>\n\
         <p>Each side is a capture, a HAR or a saved <code>--format json</code> report, analysed with the same \
         options. Destinations are compared by host name (the addresses of one service change between \
         captures), else by address; organisations by owner; server countries by code; identifiers per \
         identifier and destination. A server country is where the server's address block is registered or \
         announced, not a measured location.</p>\n\
         <p>Encrypted traffic is not read without its keys: an identifier that is no longer found may have \
         moved into encrypted traffic rather than stopped. Compare the destinations and bytes as well.</p>\n\
         <p>Identifier values are never in this page: only their kinds and labels.</p>\n</section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Change;

    fn change(a: &[&str], d: &[&str], u: usize) -> Change {
        Change {
            appeared: a.iter().map(|s| s.to_string()).collect(),
            disappeared: d.iter().map(|s| s.to_string()).collect(),
            unchanged: u,
        }
    }

    fn pair(id: &str, dest: &str, before: u64, after: u64) -> IdentifierChange {
        IdentifierChange {
            identifier: id.into(),
            declared: true,
            destination: dest.into(),
            owner: "X, server SG".into(),
            before,
            after,
        }
    }

    #[test]
    fn markup_in_names_is_text_and_groups_are_by_destination() {
        let evil = "<script>alert(1)</script>.evil.example";
        let d = Diff {
            before: vec!["before<b>.pcap".into()],
            after: vec!["after.pcap".into()],
            destinations: change(&[&format!("{evil} [X, server SG]")], &["gone.example [Y]"], 3),
            organisations: change(&["X (HQ CN)"], &[], 1),
            server_countries: change(&["SG (X)"], &["ZZ (\"q\")"], 0),
            identifiers: vec![
                pair("imei", evil, 0, 2),
                pair("mac", "gone.example", 1, 0),
                pair("android_id", "kept.example", 3, 1),
            ],
        };
        let page = render(&d);
        assert!(!page.contains("<script>") && !page.contains("before<b>"), "markup from the runs");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.evil.example"));
        assert!(page.contains("before&lt;b&gt;.pcap"));
        assert!(page.contains("SG Singapore (X)") && page.contains("ZZ (&quot;q&quot;)"));
        assert!(page.contains("The device sends identifiers after the change: 1 identifier–destination pair now sent"));
        // The destination with an identifier now sent comes first, the one kept last.
        let at = |s: &str| page.find(s).unwrap();
        assert!(at("evil.example</span> <span") < at("gone.example</span>"));
        assert!(at("gone.example</span>") < at("kept.example</span>"));
        assert!(page.contains("<span class=\"tag tp\">now sent</span>"));
        assert!(page.contains("<span class=\"tag\">less often</span>"));
        assert!(page.contains(&super::super::content_security_policy().replace('\'', "&#39;")));
    }

    #[test]
    fn nothing_sent_either_side() {
        let d = Diff {
            before: vec![],
            after: vec![],
            destinations: Change::default(),
            organisations: Change::default(),
            server_countries: Change::default(),
            identifiers: vec![],
        };
        let page = render(&d);
        assert!(page.contains("No identifier was found, before or after. 0 destinations appeared, 0 disappeared."));
        assert!(page.trim_end().ends_with("</html>"));
        let gone = Diff { identifiers: vec![pair("imei", "a.example", 2, 0)], ..d };
        assert!(
            render(&gone).contains("No identifier is sent any more: 1 identifier–destination pair no longer sent.")
        );
    }
}
