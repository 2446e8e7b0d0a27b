//! CSO/ZSO compressed images. Stub: the real reader is written separately.

use std::sync::Arc;

use crate::error::Result;
use crate::source::ReadAt;

use super::ContainerInfo;

/// Opens a CSO/ZSO image; `Ok(None)` when `source` is not one.
pub(crate) fn open(source: &Arc<dyn ReadAt>) -> Result<Option<(Arc<dyn ReadAt>, ContainerInfo)>> {
    let _ = source;
    Ok(None)
}
