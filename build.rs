//! On Windows, links WinFsp's DLL delay-loaded (see
//! winfsp-backend/delayload.rs); nothing on other platforms.
include!("winfsp-backend/delayload.rs");

fn main() {
    link_winfsp_delayload(std::path::Path::new("winfsp-x64.def"));
}
