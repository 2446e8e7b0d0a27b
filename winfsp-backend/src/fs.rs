//! The `FileSystemContext` over a [`Volume`]: the thin Windows-only glue
//! around [`Tree`], [`Listing`] and [`win_file_info`].

use std::ffi::c_void;
use std::sync::{Arc, OnceLock};

use fs_core::{Error, FileType, Volume};
use winfsp::filesystem::{
    DirInfo, DirMarker, FileInfo, FileSecurity, FileSystemContext, OpenFileInfo, VolumeInfo,
    WideNameInfo,
};
use winfsp::{FspError, U16CStr};

use crate::attr::{WinFileInfo, win_file_info};
use crate::listing::Listing;
use crate::sd;
use crate::status::{STATUS_END_OF_FILE, ntstatus};
use crate::tree::{Found, Tree};

/// The read-only file system WinFsp calls into.
pub struct WinFs {
    tree: Tree,
    sd: Vec<u8>,
    label: String,
    total_size: u64,
}

/// What an open handle holds: the node, and for a directory its listing,
/// made on the first read.
pub struct Handle {
    found: Found,
    listing: OnceLock<Result<Listing, Error>>,
}

fn fsp(e: &Error) -> FspError {
    FspError::NTSTATUS(ntstatus(e))
}

fn fill(out: &mut FileInfo, i: &WinFileInfo) {
    out.file_attributes = i.attributes;
    out.reparse_tag = 0;
    out.allocation_size = i.allocation_size;
    out.file_size = i.file_size;
    out.creation_time = i.creation_time;
    out.last_access_time = i.last_access_time;
    out.last_write_time = i.last_write_time;
    out.change_time = i.change_time;
    out.index_number = i.index_number;
    out.hard_links = 0; // hard links are not reported (VolumeParams::hard_links is off)
    out.ea_size = 0;
}

impl WinFs {
    /// A file system over `volume`, showing `label` as its volume label
    /// (see [`crate::label::volume_label`]; WinFsp keeps at most 32 UTF-16
    /// units of it).
    pub fn new(volume: Arc<Volume>, label: &str) -> Self {
        let info = volume.info();
        let total_size = u64::from(info.block_size)
            .saturating_mul(info.volume_blocks)
            .max(info.image_size);
        let label = crate::label::truncate_utf16(label, crate::label::MAX_LABEL_UNITS).to_string();
        WinFs {
            tree: Tree::new(volume),
            sd: sd::descriptor(),
            label,
            total_size,
        }
    }

    /// The volume label shown by Windows.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn lookup(&self, name: &U16CStr) -> winfsp::Result<Found> {
        self.tree
            .lookup(&name.to_string_lossy())
            .map_err(|e| fsp(&e))
    }

    /// Copies the fixed security descriptor into WinFsp's buffer when it is
    /// given and large enough (WinFsp asks again with a bigger one otherwise:
    /// the size is always returned to it).
    fn copy_security_descriptor(&self, buf: Option<&mut [c_void]>) {
        if let Some(buf) = buf {
            if buf.len() >= self.sd.len() {
                // SAFETY: `buf` is a writable buffer of at least sd.len()
                // bytes (checked above) that does not overlap our Vec.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.sd.as_ptr(),
                        buf.as_mut_ptr().cast::<u8>(),
                        self.sd.len(),
                    );
                }
            }
        }
    }
}

impl FileSystemContext for WinFs {
    type FileContext = Handle;

    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        security_descriptor: Option<&mut [c_void]>,
        _reparse_point_resolver: impl FnOnce(&U16CStr) -> Option<FileSecurity>,
    ) -> winfsp::Result<FileSecurity> {
        let found = self.lookup(file_name)?;
        self.copy_security_descriptor(security_descriptor);
        Ok(FileSecurity {
            reparse: false,
            sz_security_descriptor: self.sd.len() as u64,
            attributes: win_file_info(found.node.attr()).attributes,
        })
    }

    fn open(
        &self,
        file_name: &U16CStr,
        _create_options: u32,
        _granted_access: u32,
        file_info: &mut OpenFileInfo,
    ) -> winfsp::Result<Handle> {
        let found = self.lookup(file_name)?;
        fill(file_info.as_mut(), &win_file_info(found.node.attr()));
        Ok(Handle {
            found,
            listing: OnceLock::new(),
        })
    }

    fn close(&self, _context: Handle) {}

    fn get_file_info(&self, context: &Handle, file_info: &mut FileInfo) -> winfsp::Result<()> {
        fill(file_info, &win_file_info(context.found.node.attr()));
        Ok(())
    }

    fn get_security(
        &self,
        _context: &Handle,
        security_descriptor: Option<&mut [c_void]>,
    ) -> winfsp::Result<u64> {
        self.copy_security_descriptor(security_descriptor);
        Ok(self.sd.len() as u64)
    }

    fn read(&self, context: &Handle, buffer: &mut [u8], offset: u64) -> winfsp::Result<u32> {
        let node = &context.found.node;
        match node.kind() {
            FileType::Directory => {
                return Err(fsp(&Error::IsADirectory(String::new())));
            }
            FileType::Regular => {}
            // Devices, FIFOs, sockets: empty.
            _ => return Err(FspError::NTSTATUS(STATUS_END_OF_FILE)),
        }
        if offset >= node.attr().size {
            return Err(FspError::NTSTATUS(STATUS_END_OF_FILE));
        }
        // WinFsp never asks for more than fits a u32.
        let n = self
            .tree
            .volume()
            .read_node(node, offset, buffer)
            .map_err(|e| {
                log::warn!("read of {:?} at {offset}: {e}", context.found.name);
                fsp(&e)
            })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn read_directory(
        &self,
        context: &Handle,
        pattern: Option<&U16CStr>,
        marker: DirMarker,
        buffer: &mut [u8],
    ) -> winfsp::Result<u32> {
        if !context.found.is_dir() {
            return Err(fsp(&Error::NotADirectory(String::new())));
        }
        let listing = context
            .listing
            .get_or_init(|| Listing::new(&self.tree, &context.found))
            .as_ref()
            .map_err(|e| {
                log::warn!("listing {:?}: {e}", context.found.name);
                fsp(e)
            })?;
        let marker = marker.inner().map(String::from_utf16_lossy);
        let pattern = pattern.map(|p| p.to_string_lossy());
        let mut cursor = 0u32;
        let mut entry: DirInfo = DirInfo::new();
        for (name, info) in listing.after(marker.as_deref(), pattern.as_deref()) {
            entry.reset();
            if entry.set_name(name).is_err() {
                // Longer than 255 UTF-16 units: Windows cannot show it.
                log::warn!("{name:?}: name too long for Windows; left out");
                continue;
            }
            fill(entry.file_info_mut(), info);
            if !entry.append_to_buffer(buffer, &mut cursor) {
                // Full: WinFsp asks again with this page's last name.
                return Ok(cursor);
            }
        }
        DirInfo::<255>::finalize_buffer(buffer, &mut cursor);
        Ok(cursor)
    }

    fn get_dir_info_by_name(
        &self,
        context: &Handle,
        file_name: &U16CStr,
        out_dir_info: &mut DirInfo,
    ) -> winfsp::Result<()> {
        let name = file_name.to_string_lossy();
        let found = self
            .tree
            .child(&context.found, &name)
            .map_err(|e| fsp(&e))?;
        out_dir_info
            .set_name(&found.name)
            .map_err(|_| FspError::NTSTATUS(crate::status::STATUS_OBJECT_NAME_NOT_FOUND))?;
        fill(
            out_dir_info.file_info_mut(),
            &win_file_info(found.node.attr()),
        );
        Ok(())
    }

    fn get_volume_info(&self, out_volume_info: &mut VolumeInfo) -> winfsp::Result<()> {
        out_volume_info.total_size = self.total_size;
        out_volume_info.free_size = 0;
        out_volume_info.set_volume_label(&self.label);
        Ok(())
    }
}
