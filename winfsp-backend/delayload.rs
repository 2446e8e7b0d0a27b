// Shared by the build scripts of the `isomount` binary (../build.rs) and of
// winfsp-backend (its own test binaries): link WinFsp's DLL *delay-loaded*.
//
// winfsp-sys is built with its `docsrs` feature (see winfsp-backend's
// Cargo.toml), which emits no link flags. WinFsp's DLL is not on PATH (it
// lives in `<InstallDir>\bin`), so a normal import would stop the program
// from starting on machines without WinFsp, even for `isomount ls`. Instead:
// * windows-gnu: a delay-load import library made from `winfsp-x64.def` with
//   mingw's dlltool, passed as link args so that GNU ld sees it after the
//   rlibs that use it, plus libmingwex (`__delayLoadHelper2`) and kernel32;
// * windows-msvc: delayimp + /DELAYLOAD (what winfsp::build does).
// The DLL is then loaded from the registry's InstallDir by
// `winfsp_backend::init` before the first WinFsp call.

/// Emits the link directives for the current target; `def` is the path of
/// `winfsp-x64.def`.
fn link_winfsp_delayload(def: &std::path::Path) {
    use std::env;
    println!("cargo:rerun-if-changed={}", def.display());
    println!("cargo:rerun-if-env-changed=DLLTOOL");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    match env::var("CARGO_CFG_TARGET_ENV").as_deref() {
        Ok("msvc") => {
            println!("cargo:rustc-link-lib=dylib=delayimp");
            println!("cargo:rustc-link-arg=/DELAYLOAD:winfsp-x64.dll");
        }
        Ok("gnu") => {
            let Some(out) = env::var_os("OUT_DIR").map(std::path::PathBuf::from) else {
                println!("cargo:warning=OUT_DIR not set: WinFsp not linked");
                return;
            };
            let dlltool =
                env::var("DLLTOOL").unwrap_or_else(|_| "x86_64-w64-mingw32-dlltool".into());
            let ok = std::process::Command::new(&dlltool)
                .arg("--input-def")
                .arg(def)
                .args(["--dllname", "winfsp-x64.dll", "--output-delaylib"])
                .arg(out.join("libwinfsp-x64-delay.a"))
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                println!(
                    "cargo:warning={dlltool} failed or is missing (install gcc-mingw-w64-x86-64): \
                     WinFsp will not link (cargo check and clippy still work)"
                );
                return;
            }
            println!("cargo:rustc-link-search=native={}", out.display());
            println!("cargo:rustc-link-arg=-lwinfsp-x64-delay");
            println!("cargo:rustc-link-arg=-lmingwex");
            println!("cargo:rustc-link-arg=-lkernel32");
        }
        _ => {}
    }
}
