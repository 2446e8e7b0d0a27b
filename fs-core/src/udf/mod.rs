//! UDF (ECMA-167 / OSTA UDF). Placeholder until the reader lands.

use std::sync::Arc;

use crate::error::Result;
use crate::format::{Format, VolumeInfo};
use crate::source::ReadAt;

/// Opens the UDF side of an image; `Ok(None)` when there is none.
pub fn open(source: Arc<dyn ReadAt>) -> Result<Option<(Box<dyn Format>, VolumeInfo)>> {
    let _ = source;
    Ok(None)
}
