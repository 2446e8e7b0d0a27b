//! `fs_core::fuzz::iso9660_volume_descriptors` (see FUZZING.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fs_core::fuzz::iso9660_volume_descriptors(data));
