#![no_main]
//! One timestamp text in four zones (see `motcua::fuzz::timestamp`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| motcua::fuzz::timestamp(data));
