//! The local file state backend.

use std::path::PathBuf;

/// State in files under a directory (by default `.alchemy/<stage>/` beside the app).
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
    app: String,
    stage: String,
}

impl FileBackend {
    /// State for `app`/`stage` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, app: &str, stage: &str) -> Self {
        FileBackend { dir: dir.into(), app: app.into(), stage: stage.into() }
    }
}
