//! Raw text → typed values, and the rules a row and a file must meet:
//! values (numbers, booleans, enum aliases), local times, personal IDs
//! replaced by keyed hashes, the row parser with its cross-column rules, and
//! the units registry's checks, and a changes file's against the registry.

pub(crate) mod changes;
pub mod privacy;
pub(crate) mod registry;
pub(crate) mod row;
pub mod time;
pub mod values;
