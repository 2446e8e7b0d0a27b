//! `fs_core::fuzz::whole_image_udf` (see FUZZING.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs_core::fuzz::whole_image_udf(data));
