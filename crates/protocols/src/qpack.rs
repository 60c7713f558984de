//! QPACK (RFC 9204): placeholder, being written.

/// Why a QPACK field section could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The field section ends inside a field line.
    Truncated,
}
