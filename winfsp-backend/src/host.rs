//! Loading WinFsp, mounting, and serving until Ctrl-C.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use fs_core::Volume;
use windows::Win32::Storage::FileSystem::GetLogicalDrives;
use windows::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows::Win32::System::LibraryLoader::LoadLibraryW;
use windows::Win32::System::Registry::{
    HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW,
};
use windows::core::{BOOL, HSTRING, w};
use winfsp::host::{FileSystemHost, FileSystemParams, VolumeParams};

use crate::WINFSP_URL;
use crate::attr::filetime;
use crate::fs::WinFs;
use crate::mountpoint::{MountTarget, drive_bit, free_drive_letters};

/// WinFsp could not be loaded: not installed, or a broken install.
#[derive(Debug, Clone)]
pub struct NotInstalled {
    /// Where we looked.
    pub looked_at: Option<String>,
}

impl fmt::Display for NotInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WinFsp is not installed (mounting needs it; the other commands do not). \
             Install WinFsp from {WINFSP_URL} (the .msi, \"Core\" is enough) and try again"
        )?;
        if let Some(p) = &self.looked_at {
            write!(f, " (could not load {p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotInstalled {}

/// `<InstallDir>\bin\winfsp-x64.dll` from WinFsp's registry key.
fn installed_dll() -> Option<String> {
    let mut buf = [0u16; 1024];
    for key in [w!("SOFTWARE\\WOW6432Node\\WinFsp"), w!("SOFTWARE\\WinFsp")] {
        let mut len = (buf.len() * 2) as u32;
        // SAFETY: `buf` is writable for `len` bytes and both outlive the call.
        let r = unsafe {
            RegGetValueW(
                HKEY_LOCAL_MACHINE,
                key,
                w!("InstallDir"),
                RRF_RT_REG_SZ,
                None,
                Some(buf.as_mut_ptr().cast()),
                Some(&mut len),
            )
        };
        if r.is_ok() {
            let units = (len as usize / 2).min(buf.len());
            let dir = String::from_utf16_lossy(&buf[..units]);
            let dir = dir.trim_end_matches('\0').trim_end_matches('\\');
            return Some(format!("{dir}\\bin\\winfsp-x64.dll"));
        }
    }
    None
}

/// Loads WinFsp's DLL from its install directory (the binary delay-loads
/// it by name, and it is not on PATH) and initialises winfsp-rs. Call once
/// before [`serve`].
pub fn init() -> Result<(), NotInstalled> {
    let dll = installed_dll();
    if let Some(path) = &dll {
        // SAFETY: loading a library by full path; the handle is kept for
        // the life of the process on purpose.
        if let Err(e) = unsafe { LoadLibraryW(&HSTRING::from(path.as_str())) } {
            log::debug!("LoadLibraryW({path}): {e}");
        }
    }
    winfsp::winfsp_init()
        .map(|_| ())
        .map_err(|_| NotInstalled { looked_at: dll })
}

fn io_error(what: &str, e: windows::core::Error) -> io::Error {
    let code = e.code().0 as u32;
    // NTSTATUS values come wrapped as HRESULT_FROM_NT (FACILITY_NT_BIT).
    let detail = if code & 0x1000_0000 != 0 {
        let nt = code & !0x1000_0000;
        let name = match nt {
            0xC000_000E => " (STATUS_NO_SUCH_DEVICE: the WinFsp driver is not running)",
            0xC000_0035 => {
                " (STATUS_OBJECT_NAME_COLLISION: the drive letter is in use or the folder exists)"
            }
            0xC000_0022 => " (STATUS_ACCESS_DENIED)",
            0xC000_0033 => " (STATUS_OBJECT_NAME_INVALID)",
            0xC000_003A => " (STATUS_OBJECT_PATH_NOT_FOUND: the folder's parent does not exist)",
            _ => "",
        };
        format!("NTSTATUS 0x{nt:08X}{name}")
    } else {
        format!("{} (0x{code:08X})", e.message())
    };
    io::Error::other(format!("{what}: {detail}"))
}

/// Set by the console control handler; waited on by [`serve`].
static STOP: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
/// Set once the volume is unmounted, so a closing console waits for it.
static DONE: AtomicBool = AtomicBool::new(false);

unsafe extern "system" fn on_console_event(kind: u32) -> BOOL {
    let (lock, cv) = &STOP;
    if let Ok(mut stop) = lock.lock() {
        *stop = true;
        cv.notify_all();
    }
    if kind != CTRL_C_EVENT && kind != CTRL_BREAK_EVENT {
        // Console closing, logoff, shutdown: the process ends when we
        // return, so give the unmount a moment.
        for _ in 0..50 {
            if DONE.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    BOOL(1)
}

fn volume_params(vol: &Volume) -> VolumeParams {
    let info = vol.info();
    let created = info.created.or(info.modified).map_or(0, filetime);
    // A stable serial from the label and creation time (what `vol` shows).
    let mut serial: u32 = 0x811C_9DC5;
    for b in info.label.bytes().chain(created.to_le_bytes()) {
        serial = (serial ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let mut p = VolumeParams::new();
    p.filesystem_name("isomount")
        .sector_size(2048)
        .sectors_per_allocation_unit(1)
        .max_component_length(255)
        .volume_creation_time(created)
        .volume_serial_number(serial)
        .case_sensitive_search(false)
        .case_preserved_names(true)
        .unicode_on_disk(true)
        .persistent_acls(true)
        .read_only_volume(true)
        .post_cleanup_when_modified_only(true)
        .pass_query_directory_filename(true)
        // The image never changes: let the cache manager keep everything.
        .file_info_timeout(u32::MAX)
        .dir_info_timeout(u32::MAX)
        .volume_info_timeout(u32::MAX)
        .security_timeout(u32::MAX);
    p
}

/// Drive letters in use: those that exist (`GetLogicalDrives`), and the
/// network drives the user has mapped persistently (`HKCU\Network\X`),
/// which Explorer shows, and reconnects at logon, even while disconnected.
fn taken_drives() -> u32 {
    // SAFETY: no arguments; returns a bit mask (0 on failure).
    let mut taken = unsafe { GetLogicalDrives() };
    for c in 'D'..='Z' {
        let Some(bit) = drive_bit(c) else { continue };
        if taken & bit != 0 {
            continue;
        }
        let key = HSTRING::from(format!("Network\\{c}"));
        // SAFETY: only asks whether the value exists; no buffer is passed.
        let r = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                &key,
                w!("RemotePath"),
                RRF_RT_REG_SZ,
                None,
                None,
                None,
            )
        };
        if r.is_ok() {
            taken |= bit;
        }
    }
    taken
}

/// Free drive letters, in the order [`MountTarget::NextFreeDrive`] tries
/// them (see [`free_drive_letters`]).
fn free_drives() -> Vec<char> {
    free_drive_letters(taken_drives()).collect()
}

/// Fails when drive `drive` (`X:`) is in use, or is a mapped network
/// drive: `DefineDosDevice`, which WinFsp mounts a drive letter with, would
/// hide that drive behind the mount instead of failing.
pub fn check_drive_free(drive: &str) -> io::Result<()> {
    let letter = drive.chars().next().unwrap_or('?');
    if drive_bit(letter).is_some_and(|b| taken_drives() & b != 0) {
        return Err(io::Error::other(format!(
            "drive {drive} is in use (leave out the mount point, or give *, for the next free letter)"
        )));
    }
    Ok(())
}

/// Mounts on the first free drive letter WinFsp can take, and says which.
///
/// Not `MountPoint::NextFreeDrive`: WinFsp does pick a letter the same way
/// (Z: down to D:, the first `DefineDosDevice` that works), but winfsp-rs
/// does not give the chosen mount point back (`FSP_FILE_SYSTEM::MountPoint`
/// is behind a private field), and the user and scripts need the letter.
/// `DefineDosDevice` would shadow a letter taken since the list was made
/// rather than fail, so the letters in use are read again before each try.
fn mount_next_free(host: &mut FileSystemHost<WinFs>) -> io::Result<String> {
    let mut last_err = None;
    for c in free_drives() {
        if drive_bit(c).is_some_and(|b| taken_drives() & b != 0) {
            continue; // taken meanwhile
        }
        let drive = format!("{c}:");
        match host.mount(drive.as_str()) {
            Ok(()) => return Ok(drive),
            Err(e) => {
                log::debug!("mount on {drive}: {e}");
                last_err = Some((drive, e));
            }
        }
    }
    Err(match last_err {
        Some((drive, e)) => io_error(
            &format!("WinFsp could not take any free drive letter (the last tried: {drive})"),
            e,
        ),
        None => io::Error::other("no free drive letter (D: to Z: are all in use)"),
    })
}

/// Mounts `volume` at `target` with the volume label `label` (see
/// [`crate::label::volume_label`]), calls `ready` with the mount point
/// (`X:` for a drive, the letter chosen for
/// [`MountTarget::NextFreeDrive`], the folder's path) once Windows has it,
/// and serves until Ctrl-C (or Ctrl-Break, or the console closing); then
/// unmounts. [`init`] must have succeeded.
pub fn serve(
    volume: Arc<Volume>,
    target: &MountTarget,
    label: &str,
    threads: u32,
    ready: impl FnOnce(&str),
) -> io::Result<()> {
    let mut params = FileSystemParams::default_params(volume_params(&volume));
    params.use_dir_info_by_name = true;
    let fs = WinFs::new(volume, label);
    let mut host: FileSystemHost<WinFs> = FileSystemHost::new_with_options(params, fs)
        .map_err(|e| io_error("cannot create the WinFsp file system", e))?;
    let shown = match target {
        MountTarget::Drive(d) => {
            check_drive_free(d)?;
            host.mount(d.as_str())
                .map_err(|e| io_error("WinFsp could not take the drive letter", e))?;
            d.clone()
        }
        MountTarget::Folder(p) => {
            host.mount(p.as_os_str())
                .map_err(|e| io_error("WinFsp could not create the folder mount point", e))?;
            p.display().to_string()
        }
        MountTarget::NextFreeDrive => mount_next_free(&mut host)?,
    };
    // SAFETY: installs a handler function that lives for the whole program.
    if let Err(e) = unsafe { SetConsoleCtrlHandler(Some(on_console_event), true) } {
        log::warn!("cannot catch Ctrl-C ({e}); stop the process to unmount");
    }
    if let Err(e) = host.start_with_threads(threads.max(1)) {
        return Err(io_error("cannot start the WinFsp dispatcher", e));
    }
    ready(&shown);
    let (lock, cv) = &STOP;
    let mut stop = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !*stop {
        stop = cv.wait(stop).unwrap_or_else(|p| p.into_inner());
    }
    drop(stop);
    // Dropping the host removes the mount point, stops the dispatcher and
    // deletes the file system (winfsp-rs does it in that order).
    drop(host);
    DONE.store(true, Ordering::SeqCst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under Wine C: and Z: (the Unix root) exist; on Windows at least C:.
    #[test]
    fn free_drives_leave_out_the_ones_in_use() {
        // SAFETY: as in taken_drives.
        let existing = unsafe { GetLogicalDrives() };
        assert_ne!(existing & drive_bit('C').unwrap(), 0, "no C: drive?");
        let free = free_drives();
        for c in &free {
            assert_eq!(existing & drive_bit(*c).unwrap(), 0, "{c}: is in use");
        }
        assert!(free.windows(2).all(|w| w[0] > w[1]), "not Z to D: {free:?}");
        assert!(free.iter().all(|c| ('D'..='Z').contains(c)));
    }
}
