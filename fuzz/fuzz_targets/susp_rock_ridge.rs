//! `fs_core::fuzz::susp_rock_ridge` (see FUZZING.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs_core::fuzz::susp_rock_ridge(data));
