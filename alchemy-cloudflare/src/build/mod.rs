//! Building an app crate into a Worker bundle, on this machine.
//!
//! [`build_worker`] compiles the crate's library for `wasm32-unknown-unknown` with the toolchain
//! that `scripts/wasm-toolchain.sh` installs (Debian's `rustc-web`, building `std` from source),
//! in a target directory of its own, runs `wasm-bindgen`, and writes the JS entry
//! (`shim.js`) that exports the fetch handler and one Durable Object class per actor namespace.
//! The [`WorkerBundle`] it returns says where everything is, and how large it is.
//!
//! ```no_run
//! use alchemy_cloudflare::build::{build_worker, BuildOptions};
//!
//! let bundle = build_worker("examples/photo-share".as_ref(), &BuildOptions::default())?;
//! println!("{}", bundle.size);
//! # Ok::<(), alchemy_cloudflare::build::BuildError>(())
//! ```

mod shim;
mod toolchain;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use toolchain::{target_dir, Toolchain};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A tool of the wasm toolchain is missing.
    #[error(
        "{what} is missing at {}: run `bash scripts/wasm-toolchain.sh` (it installs the wasm \
         toolchain under $CARGO_TARGET_DIR/alchemy-tools/wasm), or set ALCHEMY_TOOLS_DIR to where it is",
        path.display()
    )]
    MissingTool {
        /// What is missing, such as `"the wasm32 rustc"`.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// A step of the build (cargo, wasm-bindgen) failed.
    #[error("{step} failed: {detail}")]
    Step {
        /// The step, such as `"cargo build for wasm32"`.
        step: &'static str,
        /// What it said.
        detail: String,
    },

    /// The crate is no Worker: it exports no fetch handler.
    #[error(
        "{} exports no `fetch` function: add `alchemy_cloudflare::serve!(YourService);` to the \
         crate's lib.rs (and `crate-type = [\"cdylib\", \"rlib\"]` under [lib])",
        crate_dir.display()
    )]
    NoFetchHandler {
        /// The crate.
        crate_dir: PathBuf,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The wasm toolchain; by default [`Toolchain::from_env`].
    pub toolchain: Option<Toolchain>,
    /// The target directory of the wasm build; by default `wasm` under the cargo target
    /// directory ([`target_dir`]): never the native one, whose artifacts a different compiler
    /// made.
    pub target_dir: Option<PathBuf>,
    /// Where the bundle goes; by default `<target_dir>/bundles/<crate name>`.
    pub out_dir: Option<PathBuf>,
    /// Cargo features of the crate to enable.
    pub features: Vec<String>,
}

/// A built Worker: its JS entry, the wasm-bindgen glue and the wasm module.
#[derive(Debug, Clone)]
pub struct WorkerBundle {
    /// The directory that holds the bundle.
    pub dir: PathBuf,
    /// The main module: the JS entry that exports the fetch handler and the classes.
    pub main_module: PathBuf,
    /// The wasm module.
    pub wasm: PathBuf,
    /// The Durable Object classes the entry exports, in the order the crate defines them.
    pub classes: Vec<String>,
    /// How large it is.
    pub size: BundleSize,
}

/// The sizes of a bundle, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleSize {
    /// The wasm module as cargo linked it.
    pub cargo_wasm: u64,
    /// The wasm module after wasm-bindgen, as it is uploaded.
    pub wasm: u64,
    /// The same, gzipped (what the Workers size limit counts).
    pub wasm_gzipped: u64,
    /// The JS glue and entry.
    pub js: u64,
}

impl fmt::Display for BundleSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wasm {} KiB ({} KiB gzipped; {} KiB before wasm-bindgen), JS {} KiB",
            self.wasm / 1024,
            self.wasm_gzipped / 1024,
            self.cargo_wasm / 1024,
            self.js / 1024
        )
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds the app crate at `crate_dir` into a Worker bundle.
///
/// The crate's library must be a `cdylib` that exports the fetch handler with
/// [`serve!`](crate::serve!) and its Durable Object classes with
/// [`durable_object!`](crate::durable_object!).
pub fn build_worker(crate_dir: &Path, options: &BuildOptions) -> Result<WorkerBundle, BuildError> {
    let toolchain = match &options.toolchain {
        Some(toolchain) => toolchain.clone(),
        None => Toolchain::from_env(),
    };
    toolchain.check()?;
    let target_dir = options
        .target_dir
        .clone()
        .unwrap_or_else(|| target_dir().join("wasm"));
    let cargo_wasm = compile(crate_dir, &toolchain, &target_dir, &options.features)?;
    let name = cargo_wasm
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("worker")
        .to_string();
    let dir = options
        .out_dir
        .clone()
        .unwrap_or_else(|| target_dir.join("bundles").join(&name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    bindgen(&toolchain, &cargo_wasm, &dir)?;

    let glue_path = dir.join("index.js");
    let glue = std::fs::read_to_string(&glue_path).map_err(io_error(&glue_path))?;
    // workerd imports a `.wasm` module as a compiled `WebAssembly.Module`: a plain import.
    let glue = glue.replace("import source wasmModule", "import wasmModule");
    std::fs::write(&glue_path, &glue).map_err(io_error(&glue_path))?;
    let exports = shim::Exports::of(&glue);
    if !exports.fetch {
        return Err(BuildError::NoFetchHandler {
            crate_dir: crate_dir.to_path_buf(),
        });
    }
    let main_module = dir.join("shim.js");
    std::fs::write(&main_module, exports.entry()).map_err(io_error(&main_module))?;

    let wasm = dir.join("index_bg.wasm");
    let size = BundleSize {
        cargo_wasm: file_size(&cargo_wasm)?,
        wasm: file_size(&wasm)?,
        wasm_gzipped: gzipped_size(&wasm)?,
        js: js_size(&dir)?,
    };
    Ok(WorkerBundle {
        dir,
        main_module,
        wasm,
        classes: exports.classes,
        size,
    })
}

/// Runs cargo for wasm32 and returns the linked module.
fn compile(
    crate_dir: &Path,
    toolchain: &Toolchain,
    target_dir: &Path,
    features: &[String],
) -> Result<PathBuf, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    let mut command = toolchain.cargo();
    command
        .args([
            "build",
            "--lib",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .args([
            "--target",
            "wasm32-unknown-unknown",
            "-Zbuild-std=std,panic_abort",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    let output = command.output().map_err(|error| BuildError::Step {
        step: "cargo build for wasm32",
        detail: error.to_string(),
    })?;
    if !output.status.success() {
        return Err(BuildError::Step {
            step: "cargo build for wasm32",
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let manifest = std::fs::canonicalize(&manifest).map_err(io_error(&manifest))?;
    let package_dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["manifest_path"]
                .as_str()
                .map(|path| Path::new(path).parent() == Some(package_dir.as_path()))
                .unwrap_or(false)
        })
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| BuildError::Step {
            step: "cargo build for wasm32",
            detail: format!(
                "no .wasm came out of {}: its [lib] needs `crate-type = [\"cdylib\", \"rlib\"]`",
                manifest.display()
            ),
        })
}

/// Runs wasm-bindgen, writing `index.js` and `index_bg.wasm` into `dir`.
fn bindgen(toolchain: &Toolchain, wasm: &Path, dir: &Path) -> Result<(), BuildError> {
    let output = Command::new(toolchain.wasm_bindgen())
        .args([
            "--target",
            "module",
            "--out-name",
            "index",
            "--no-typescript",
        ])
        .arg("--out-dir")
        .arg(dir)
        .arg(wasm)
        .output()
        .map_err(|error| BuildError::Step {
            step: "wasm-bindgen",
            detail: error.to_string(),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BuildError::Step {
            step: "wasm-bindgen",
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn file_size(path: &Path) -> Result<u64, BuildError> {
    Ok(std::fs::metadata(path).map_err(io_error(path))?.len())
}

/// The size of `path`, gzipped at the default level.
fn gzipped_size(path: &Path) -> Result<u64, BuildError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&bytes).map_err(io_error(path))?;
    let compressed = encoder.finish().map_err(io_error(path))?;
    Ok(compressed.len() as u64)
}

/// The size of every JS file of the bundle.
fn js_size(dir: &Path) -> Result<u64, BuildError> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).map_err(io_error(&current))? {
            let path = entry.map_err(io_error(&current))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "js") {
                total += file_size(&path)?;
            }
        }
    }
    Ok(total)
}
