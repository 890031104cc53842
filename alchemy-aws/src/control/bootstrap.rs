//! The code of a Lambda function: the app's executable as `bootstrap` in a zip, for the
//! `provided.al2023` runtime.
//!
//! The zip is deterministic: one entry `bootstrap`, mode `0755`, a fixed modification time
//! (1980-01-01 00:00) and a fixed compression level, so the same binary always gives the
//! same bytes and the same `CodeSha256`, and an unchanged function plans as a no-op.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use alchemy::{Error, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A packaged function: where the zip is and what Lambda will report of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The zip.
    pub zip_path: PathBuf,
    /// The base64 SHA-256 of the zip, as Lambda reports it in `CodeSha256`.
    pub code_sha256: String,
    /// The zip's size in bytes.
    pub size: u64,
    /// The instruction set of the binary, as Lambda names it: `x86_64` or `arm64`.
    pub architecture: String,
}

/// The file name of the zip in the output directory.
pub const ZIP_NAME: &str = "bootstrap.zip";

/// Packages `exe` as it is (a prebuilt binary, e.g. from `cargo lambda build`) into
/// `out_dir/bootstrap.zip`.
///
/// The result is cached by the size and modification time of `exe`: packaging the same file
/// again reads nothing and writes nothing.
pub fn package(exe: &Path, out_dir: &Path) -> Result<Package> {
    package_with(exe, out_dir, false)
}

/// Packages the running executable, with its debug information stripped (by `objcopy
/// --strip-debug` into a temporary file, when `objcopy` is installed), into
/// `out_dir/bootstrap.zip`: the binary that deploys the app is the one that serves it.
///
/// Cached like [`package`].
pub fn package_current_exe(out_dir: &Path) -> Result<Package> {
    let exe = std::env::current_exe().map_err(|e| {
        Error::Config(format!(
            "cannot find the running executable to deploy as the function's code: {e}; name a \
             prebuilt binary with the stage setting `bootstrap`"
        ))
    })?;
    package_with(&exe, out_dir, true)
}

/// What a cached package was made from.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    source: PathBuf,
    source_size: u64,
    source_mtime_ns: u128,
    stripped: bool,
    package: Package,
}

fn package_with(exe: &Path, out_dir: &Path, strip: bool) -> Result<Package> {
    let meta = std::fs::metadata(exe).map_err(|e| {
        Error::Config(format!(
            "cannot read the bootstrap binary {}: {e}; build it first, or fix the stage \
             setting `bootstrap`",
            exe.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::Config(format!(
            "the bootstrap {} is not a file: name the compiled binary",
            exe.display()
        )));
    }
    let architecture = architecture(exe)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    std::fs::create_dir_all(out_dir).map_err(|e| io("create", out_dir, e))?;
    let zip_path = out_dir.join(ZIP_NAME);
    let manifest_path = out_dir.join("bootstrap.json");
    let wanted = |package: Package| Manifest {
        source: exe.to_owned(),
        source_size: meta.len(),
        source_mtime_ns: mtime,
        stripped: strip,
        package,
    };

    if let Some(cached) = std::fs::read(&manifest_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
    {
        let zip_intact = std::fs::metadata(&zip_path).is_ok_and(|m| m.len() == cached.package.size);
        if zip_intact && cached == wanted(cached.package.clone()) {
            return Ok(cached.package);
        }
    }

    let stripped = if strip {
        strip_debug(exe, out_dir)?
    } else {
        None
    };
    let source = stripped.as_ref().map_or(exe, |t| t.path());
    let tmp = out_dir.join(format!("{ZIP_NAME}.{}.tmp", std::process::id()));
    let written = write_zip(source, &tmp).map_err(|e| io("write", &tmp, e));
    drop(stripped);
    let size = written?;
    let code_sha256 = sha256_base64(&tmp).map_err(|e| io("read", &tmp, e))?;
    std::fs::rename(&tmp, &zip_path).map_err(|e| io("write", &zip_path, e))?;
    let package = Package {
        zip_path,
        code_sha256,
        size,
        architecture: architecture.to_owned(),
    };
    let manifest = serde_json::to_vec_pretty(&wanted(package.clone()))?;
    std::fs::write(&manifest_path, manifest).map_err(|e| io("write", &manifest_path, e))?;
    Ok(package)
}

/// The Lambda architecture of the Linux executable `exe`, from its ELF header.
fn architecture(exe: &Path) -> Result<&'static str> {
    let mut head = [0u8; 20];
    let read = File::open(exe).and_then(|mut f| f.read_exact(&mut head));
    let not_linux = || {
        Error::Config(format!(
            "{} is not a 64-bit Linux executable, which Lambda needs: build one for \
             x86_64-unknown-linux-gnu or aarch64-unknown-linux-gnu (for example with `cargo \
             lambda build`) and name it with the stage setting `bootstrap`",
            exe.display()
        ))
    };
    if read.is_err() || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return Err(not_linux());
    }
    match u16::from_le_bytes([head[18], head[19]]) {
        0x3e => Ok("x86_64"),
        0xb7 => Ok("arm64"),
        other => Err(Error::Config(format!(
            "{} is built for ELF machine {other:#x}, which Lambda does not run: build it for \
             x86_64 or aarch64",
            exe.display()
        ))),
    }
}

/// A copy of `exe` without debug information, removed when dropped; `None` when `objcopy`
/// is not installed.
fn strip_debug(exe: &Path, out_dir: &Path) -> Result<Option<TempFile>> {
    let tmp = TempFile(out_dir.join(format!("bootstrap.{}.stripped", std::process::id())));
    let run = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(exe)
        .arg(tmp.path())
        .output();
    match run {
        Ok(out) if out.status.success() => Ok(Some(tmp)),
        Ok(out) => Err(Error::provider(format!(
            "objcopy --strip-debug {} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::provider(format!("cannot run objcopy: {e}"))),
    }
}

/// A file deleted when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const ENTRY: &[u8] = b"bootstrap";
/// 1980-01-01 in MS-DOS date format: the earliest a zip can say, the same for every build.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Unix (3) in the high byte, zip format 2.0 in the low byte.
const MADE_BY: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
const DEFLATE: u16 = 8;
/// A regular file, `rwxr-xr-x`, in the high half of the external attributes.
const MODE: u32 = 0o100_755 << 16;

/// Writes a zip of one deflated entry `bootstrap` holding `source` to `dest`; its size.
fn write_zip(source: &Path, dest: &Path) -> io::Result<u64> {
    let mut input = BufReader::with_capacity(1 << 20, File::open(source)?);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(dest)?);

    // Local header; CRC and sizes are filled in once the data is written.
    out.write_all(&0x0403_4b50u32.to_le_bytes())?;
    for v in [NEEDED, 0, DEFLATE, DOS_TIME, DOS_DATE] {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(&[0; 12])?;
    out.write_all(
        &u16::try_from(ENTRY.len())
            .expect("short name")
            .to_le_bytes(),
    )?;
    out.write_all(&0u16.to_le_bytes())?;
    out.write_all(ENTRY)?;
    let data_start = 30 + ENTRY.len() as u64;

    let mut crc = crc32fast::Hasher::new();
    let mut uncompressed: u64 = 0;
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::new(6));
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        uncompressed += n as u64;
        encoder.write_all(&buf[..n])?;
    }
    let mut out = encoder.finish()?;
    let data_end = out.stream_position()?;
    let crc = crc.finalize();
    let compressed = zip32(data_end - data_start)?;
    let uncompressed = zip32(uncompressed)?;

    // Central directory, then its end record.
    out.write_all(&0x0201_4b50u32.to_le_bytes())?;
    for v in [MADE_BY, NEEDED, 0, DEFLATE, DOS_TIME, DOS_DATE] {
        out.write_all(&v.to_le_bytes())?;
    }
    for v in [crc, compressed, uncompressed] {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(
        &u16::try_from(ENTRY.len())
            .expect("short name")
            .to_le_bytes(),
    )?;
    for v in [0u16, 0, 0, 0] {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(&MODE.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(ENTRY)?;
    let central_size = zip32(out.stream_position()? - data_end)?;
    out.write_all(&0x0605_4b50u32.to_le_bytes())?;
    for v in [0u16, 0, 1, 1] {
        out.write_all(&v.to_le_bytes())?;
    }
    out.write_all(&central_size.to_le_bytes())?;
    out.write_all(&zip32(data_end)?.to_le_bytes())?;
    out.write_all(&0u16.to_le_bytes())?;
    let size = out.stream_position()?;

    out.seek(SeekFrom::Start(14))?;
    for v in [crc, compressed, uncompressed] {
        out.write_all(&v.to_le_bytes())?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    Ok(size)
}

fn zip32(n: u64) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| {
        io::Error::other("the bootstrap is over 4 GiB, more than a zip without ZIP64 holds")
    })
}

/// The base64 SHA-256 of the file at `path`.
fn sha256_base64(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(hash.finalize()))
}

fn io(what: &str, path: &Path, e: io::Error) -> Error {
    Error::provider(format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `body` behind the ELF header of a 64-bit little-endian executable for `machine`.
    fn elf(machine: u16, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        bytes.resize(16, 0);
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&machine.to_le_bytes());
        bytes.resize(64, 0);
        bytes.extend_from_slice(body);
        bytes
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("alchemy-bootstrap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Reads the one entry back with `unzip` semantics checked by hand: the local header,
    /// the inflated data and its CRC, and the mode in the central directory.
    fn unzip(zip: &[u8]) -> (Vec<u8>, u32) {
        assert_eq!(&zip[..4], &0x0403_4b50u32.to_le_bytes());
        let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap());
        assert_eq!(u16_at(8), DEFLATE);
        let crc = u32_at(14);
        let compressed = u32_at(18) as usize;
        let size = u32_at(22) as usize;
        let name_len = u16_at(26) as usize;
        assert_eq!(&zip[30..30 + name_len], b"bootstrap");
        let start = 30 + name_len;
        let mut data = Vec::new();
        flate2::read::DeflateDecoder::new(&zip[start..start + compressed])
            .read_to_end(&mut data)
            .unwrap();
        assert_eq!(data.len(), size);
        assert_eq!(crc32fast::hash(&data), crc);
        let central = start + compressed;
        assert_eq!(u32_at(central), 0x0201_4b50);
        let mode = u32_at(central + 38) >> 16;
        let end = zip.len() - 22;
        assert_eq!(u32_at(end), 0x0605_4b50);
        assert_eq!(u32_at(end + 16) as usize, central);
        (data, mode)
    }

    #[test]
    fn the_zip_holds_the_binary_as_an_executable_bootstrap() {
        let dir = temp_dir("holds");
        let exe = dir.join("app");
        let body: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let body = elf(0x3e, &body);
        std::fs::write(&exe, &body).unwrap();
        let package = package(&exe, &dir.join("out")).unwrap();
        let zip = std::fs::read(&package.zip_path).unwrap();
        assert_eq!(zip.len() as u64, package.size);
        let (data, mode) = unzip(&zip);
        assert_eq!(data, body);
        assert_eq!(mode, 0o100_755);
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
        assert_eq!(package.code_sha256, digest);
        assert_eq!(package.architecture, "x86_64");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_same_binary_gives_the_same_bytes_and_a_change_changes_them() {
        let dir = temp_dir("same");
        let exe = dir.join("app");
        std::fs::write(&exe, elf(0x3e, b"the same binary")).unwrap();
        let first = package(&exe, &dir.join("a")).unwrap();
        // Another directory and another modification time: the bytes do not depend on them.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&exe, elf(0x3e, b"the same binary")).unwrap();
        let second = package(&exe, &dir.join("b")).unwrap();
        assert_eq!(first.code_sha256, second.code_sha256);
        assert_eq!(
            std::fs::read(&first.zip_path).unwrap(),
            std::fs::read(&second.zip_path).unwrap()
        );
        std::fs::write(&exe, elf(0x3e, b"another binary")).unwrap();
        let third = package(&exe, &dir.join("b")).unwrap();
        assert_ne!(third.code_sha256, second.code_sha256);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unchanged_source_is_not_packaged_again() {
        let dir = temp_dir("cached");
        let exe = dir.join("app");
        std::fs::write(&exe, elf(0xb7, b"cached")).unwrap();
        let out = dir.join("out");
        let first = package(&exe, &out).unwrap();
        let written = std::fs::metadata(&first.zip_path)
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let again = package(&exe, &out).unwrap();
        assert_eq!(again, first);
        assert_eq!(again.architecture, "arm64");
        let after = std::fs::metadata(&first.zip_path)
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(written, after, "the zip was written again");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_running_executable_is_packaged_without_debug_information() {
        let dir = temp_dir("current");
        let package = package_current_exe(&dir).unwrap();
        let zip = std::fs::read(&package.zip_path).unwrap();
        let (data, mode) = unzip(&zip);
        assert_eq!(mode, 0o100_755);
        assert_eq!(&data[..4], b"\x7fELF", "an executable");
        let exe = std::fs::metadata(std::env::current_exe().unwrap())
            .unwrap()
            .len();
        let objcopy = std::process::Command::new("objcopy")
            .arg("--version")
            .output();
        if objcopy.is_ok_and(|o| o.status.success()) {
            assert!(
                (data.len() as u64) < exe,
                "stripped {} bytes of {exe}",
                data.len()
            );
        } else {
            assert_eq!(data.len() as u64, exe);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_linux_executables_lambda_runs_are_packaged() {
        let dir = temp_dir("not-linux");
        let exe = dir.join("app");
        for bytes in [b"#!/bin/sh\necho hi\n".to_vec(), elf(0x28, b"32-bit arm")] {
            std::fs::write(&exe, bytes).unwrap();
            let err = package(&exe, &dir.join("out")).unwrap_err().to_string();
            assert!(err.contains("app"), "names the file: {err}");
            assert!(err.contains("x86_64"), "says what to build: {err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_binary_names_the_setting_to_fix() {
        let dir = temp_dir("missing");
        let err = package(&dir.join("nope"), &dir).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("bootstrap"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
