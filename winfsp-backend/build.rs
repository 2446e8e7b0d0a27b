//! Links WinFsp delay-loaded into this crate's own test binaries (the
//! `isomount` binary does the same in its build script).
include!("delayload.rs");

fn main() {
    link_winfsp_delayload(std::path::Path::new("../winfsp-x64.def"));
}
