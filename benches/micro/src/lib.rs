//! See benches/hot_paths.rs.
