//! ISO 9660 (ECMA-119) with Joliet and Rock Ridge.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{Format, View, VolumeInfo};
use crate::source::ReadAt;

/// Opens the ISO 9660 side of an image and picks a view: `want` if given
/// (error [`Error::ViewUnavailable`] if absent), else Rock Ridge, then Joliet,
/// then plain ISO 9660.
pub fn open(source: Arc<dyn ReadAt>, want: Option<View>) -> Result<(Box<dyn Format>, VolumeInfo)> {
    let _ = (source, want);
    Err(Error::NotRecognized(
        "ISO 9660 reader not written yet".into(),
    ))
}
#[allow(dead_code)]
pub(crate) mod rock_ridge;
#[allow(dead_code)]
pub(crate) mod susp;
