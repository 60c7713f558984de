//! Time to the first lookup in the embedded IP tables, as a user waits for it: a fresh
//! process, `IpDb::embedded()` (inflate and index the dictionaries and IPv4 ranges), one
//! IPv4 lookup; then the first IPv6 lookup (which inflates the IPv6 ranges).
//!
//! ```text
//! cargo build --release -p phonehome-attribute --example ip_startup
//! hyperfine -N --warmup 3 target/release/examples/ip_startup   # wall clock, whole process
//! target/release/examples/ip_startup                            # the two phases, in-process
//! perf stat -e task-clock -r 20 target/release/examples/ip_startup v4   # CPU, IPv4 phase only
//! ```
//!
//! Wall-clock figures on a shared machine swing with its load; `perf stat` (task-clock)
//! or hyperfine's user+sys give the CPU time, which does not.

use std::time::Instant;

use phonehome_attribute::ip::IpDb;

fn main() {
    let t = Instant::now();
    let db = IpDb::embedded();
    let v4 = db.lookup("8.8.8.8".parse().expect("address"));
    let first = t.elapsed();
    if std::env::args().nth(1).as_deref() == Some("v4") {
        let country = v4.country.map_or("?".into(), |c| c.to_string());
        return println!("first IPv4 lookup {:.1} ms ({country})", first.as_secs_f64() * 1e3);
    }
    let t = Instant::now();
    let v6 = db.lookup("2001:4860:4860::8888".parse().expect("address"));
    let first_v6 = t.elapsed();
    println!(
        "first IPv4 lookup {:.1} ms ({}), first IPv6 lookup then {:.1} ms ({})",
        first.as_secs_f64() * 1e3,
        v4.country.map_or("?".into(), |c| c.to_string()),
        first_v6.as_secs_f64() * 1e3,
        v6.asn.map_or(0, |a| a.number),
    );
}
