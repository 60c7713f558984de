//! Names: registrable domain, owning organisation, category. (Being written; see issue 5.)
