//! `cargo xtask tidy`: the invariants of the workspace that no compiler checks, each a function
//! that returns what it found wrong, so the tests can show every check failing on bad input.

pub mod arrows;
pub mod deny;
pub mod shell;
