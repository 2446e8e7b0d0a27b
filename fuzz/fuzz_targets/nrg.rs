//! `fs_core::fuzz::nrg` (see FUZZING.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs_core::fuzz::nrg(data));
