//! A Ballista cluster's processes for motcua's SQL (cargo feature
//! `distributed`): the scheduler and the executor (`process.rs`), run by
//! `motcua cluster scheduler|executor`, with motcua's codecs
//! (`sql/codec.rs`: its functions and in-memory tables travel inside the
//! plans) and object stores that reach any bucket a plan names
//! (`stores.rs`). Every executor reads the lake's files itself, from a
//! bucket or from a folder they all mount. A session hands its queries to
//! the scheduler in `sql/cluster.rs`.

mod process;
mod stores;

pub use crate::sql::cluster::ClusterUrl;
pub use process::{ExecutorOptions, run_executor, run_scheduler};
