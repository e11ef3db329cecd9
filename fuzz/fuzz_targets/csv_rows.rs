#![no_main]
//! A CSV export through ingest's whole parsing path (see `motcua::fuzz::rows`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| motcua::fuzz::rows(data, motcua::read::Format::Csv));
