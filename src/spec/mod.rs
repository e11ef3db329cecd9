//! What motcua reads and computes, declared as data: the feeds and their
//! columns, the enum values, the KPI catalog and the calendar grains. No I/O.

pub(crate) mod enums;
pub mod feeds;
pub mod grain;
pub mod kpis;
pub(crate) mod token;
