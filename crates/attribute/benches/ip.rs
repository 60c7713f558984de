//! Placeholder so that the workspace builds while the ip bench is written (issue 5).

fn main() {}
