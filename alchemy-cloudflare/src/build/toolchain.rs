//! [`Toolchain`]: where `scripts/wasm-toolchain.sh` put the wasm toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::BuildError;

/// The wasm toolchain: Debian's `rustc-web` and `cargo-web` unpacked into a prefix, with
/// `wasm-bindgen` under `PREFIX/bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    prefix: PathBuf,
}

impl Toolchain {
    /// The toolchain at `prefix`.
    pub fn at(prefix: impl Into<PathBuf>) -> Self {
        Toolchain {
            prefix: prefix.into(),
        }
    }

    /// The toolchain where the script installs it: `$ALCHEMY_TOOLS_DIR`, else
    /// `alchemy-tools/wasm` under the cargo target directory (see [`target_dir`]).
    pub fn from_env() -> Self {
        if let Some(dir) = std::env::var_os("ALCHEMY_TOOLS_DIR") {
            return Self::at(dir);
        }
        Self::at(target_dir().join("alchemy-tools").join("wasm"))
    }

    /// The prefix.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Fails with [`BuildError::MissingTool`], saying how to install it, when a tool is missing.
    pub fn check(&self) -> Result<(), BuildError> {
        let tools = [
            ("the wasm32 rustc", self.bin("rustc")),
            ("the wasm32 cargo", self.bin("cargo")),
            ("wasm-bindgen", self.wasm_bindgen()),
            (
                "the std sources",
                self.prefix.join("usr/lib/rustlib/src/rust/library"),
            ),
        ];
        for (what, path) in tools {
            if !path.exists() {
                return Err(BuildError::MissingTool { what, path });
            }
        }
        Ok(())
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.prefix.join("usr/bin").join(name)
    }

    /// The `wasm-bindgen` CLI.
    pub fn wasm_bindgen(&self) -> PathBuf {
        self.prefix.join("bin/wasm-bindgen")
    }

    /// `cargo` of the toolchain, with the environment a wasm32 build needs: its own rustc,
    /// nightly features for `-Zbuild-std`, and a release profile tuned for size. The
    /// environment of a surrounding cargo (flags, wrappers) is left out.
    pub fn cargo(&self) -> Command {
        let mut command = Command::new(self.bin("cargo"));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.prefix.join("usr/bin")];
        paths.extend(std::env::split_paths(&path));
        command
            .env("PATH", std::env::join_paths(paths).unwrap_or(path))
            .env(
                "LD_LIBRARY_PATH",
                self.prefix.join("usr/lib/x86_64-linux-gnu"),
            )
            .env("RUSTC", self.bin("rustc"))
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
            .env("CARGO_PROFILE_RELEASE_LTO", "true")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
            .env("CARGO_TERM_COLOR", "never");
        for variable in [
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "RUSTDOC",
        ] {
            command.env_remove(variable);
        }
        command
    }
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else the directory of the running program
/// that cargo marked as a target directory (a test or a tool built by cargo), else `target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("target"))
}
