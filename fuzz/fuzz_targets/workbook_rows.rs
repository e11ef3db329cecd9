#![no_main]
//! A workbook export (xlsx, xlsb, xls, ods) through ingest's whole parsing
//! path (see `motcua::fuzz::rows`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| motcua::fuzz::rows(data, motcua::read::Format::Workbook));
