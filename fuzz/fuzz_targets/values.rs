#![no_main]
//! One value text through the number, target and boolean parsers (see
//! `motcua::fuzz::values`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| motcua::fuzz::values(data));
