//! Addresses: special ranges, country and ASN. (Being written; see issue 5.)
