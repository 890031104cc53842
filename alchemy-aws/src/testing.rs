//! AWS emulators on loopback for tests: [`Emulator::ministack`] and [`Emulator::moto`].
//!
//! Each call installs its emulator if it is missing (a Python virtual environment under the
//! tools directory, see [`tools_dir`]), starts a fresh server on a free `127.0.0.1` port, waits
//! until it answers, and hands out SDK configuration with static test credentials. Dropping the
//! [`Emulator`] stops the server. Installing happens once; later calls only start the server
//! (about a second).
//!
//! A missing `python3` is an error saying how to install it: tests that need an emulator fail
//! rather than pass without having run.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::bucket::BucketClient;
//! use alchemy_aws::testing::Emulator;
//!
//! let emulator = Emulator::ministack().await?;
//! let bucket = BucketClient::new(emulator.create_bucket("photos").await?);
//! bucket.put("cat.txt", "meow").await?;
//! # Ok(())
//! # }
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use alchemy::bucket::Capabilities;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_s3::config::{
    ConfigBag, Credentials, Intercept, RuntimeComponents, SharedCredentialsProvider,
};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::SdkBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::s3::S3Bucket;

/// The MiniStack release the harness installs.
pub const MINISTACK_VERSION: &str = "1.5.33";
/// The moto release the harness installs when no `moto_server` is on `PATH`.
pub const MOTO_VERSION: &str = "5.2.1";
/// The region the emulators are addressed in.
pub const REGION: &str = "us-east-1";

/// How long a server may take to answer after it was started, before the harness gives up.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long an install lock may be held before another process takes it over.
const STALE_LOCK: Duration = Duration::from_secs(600);

/// Serialises installs within this process (the lock file serialises them across processes).
static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why an emulator could not be installed or started; the message says how to fix it.
#[derive(Debug)]
pub struct EmulatorError {
    message: String,
}

impl EmulatorError {
    fn new(message: impl Into<String>) -> Self {
        EmulatorError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EmulatorError {}

/// Which emulator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MiniStack,
    Moto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::MiniStack => "ministack",
            Kind::Moto => "moto",
        }
    }

    /// The path that answers once the server is ready.
    fn reset_path(self) -> &'static str {
        match self {
            Kind::MiniStack => "/_ministack/reset",
            Kind::Moto => "/moto-api/reset",
        }
    }

    fn health_path(self) -> &'static str {
        match self {
            Kind::MiniStack => "/_ministack/health",
            Kind::Moto => "/moto-api/",
        }
    }
}

/// A running AWS emulator on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    kind: Kind,
    process: Child,
    endpoint: String,
    log: PathBuf,
}

impl Emulator {
    /// Starts MiniStack (the emulator that also runs Lambda code), installing
    /// `ministack==`[`MINISTACK_VERSION`] first if needed.
    pub async fn ministack() -> Result<Emulator, EmulatorError> {
        let exe = venv_tool(
            &format!("ministack-{MINISTACK_VERSION}"),
            &format!("ministack=={MINISTACK_VERSION}"),
            "ministack",
        )
        .await?;
        start(Kind::MiniStack, |port| {
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut command = Command::new(&exe);
            command
                .env("BIND_HOST", "127.0.0.1")
                .env("GATEWAY_PORT", port.to_string())
                .env("SFTP_ENABLED", "0")
                .env("IOT_MTLS_ENABLED", "0")
                .env("AWS_ENDPOINT_URL", endpoint);
            command
        })
        .await
    }

    /// Starts moto's server: the `moto_server` on `PATH` if there is one, else
    /// `moto[server]==`[`MOTO_VERSION`], installed first if needed.
    pub async fn moto() -> Result<Emulator, EmulatorError> {
        let exe = match find_on_path("moto_server") {
            Some(exe) => exe,
            None => {
                venv_tool(
                    &format!("moto-{MOTO_VERSION}"),
                    &format!("moto[server]=={MOTO_VERSION}"),
                    "moto_server",
                )
                .await?
            }
        };
        start(Kind::Moto, |port| {
            let mut command = Command::new(&exe);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            command
        })
        .await
    }

    /// The emulator's name: `"ministack"` or `"moto"`.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The endpoint URL, such as `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Forgets every resource (buckets, objects, and whatever else was created), as if the
    /// server had just started.
    pub async fn reset(&self) -> Result<(), EmulatorError> {
        let port = self.port();
        let status = http_call(port, "POST", self.kind.reset_path())
            .await
            .map_err(|error| {
                EmulatorError::new(format!("cannot reach {} to reset it: {error}", self.name()))
            })?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(EmulatorError::new(format!(
                "{} answered the reset with {status}; its log is {}",
                self.name(),
                self.log.display()
            )))
        }
    }

    fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or(0)
    }

    /// Where the server's output goes, to read when a test fails.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// SDK configuration for this emulator: its endpoint, region [`REGION`] and static test
    /// credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        let credentials = Credentials::new("test", "test", None, None, "alchemy-testing");
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    /// An S3 client for this emulator (path-style addressing). For moto, the client also
    /// renames the root elements of the moto answers the SDK cannot parse (see
    /// [`MotoRootElements`]).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let mut config =
            aws_sdk_s3::config::Builder::from(&self.sdk_config()).force_path_style(true);
        if self.kind == Kind::Moto {
            config = config.interceptor(MotoRootElements);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    }

    /// Creates a bucket whose name starts with `prefix` and ends in a suffix unique to this
    /// call, and returns it as an [`S3Bucket`].
    pub async fn create_bucket(&self, prefix: &str) -> Result<S3Bucket, EmulatorError> {
        let name = unique_bucket_name(prefix);
        self.s3_client()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|error| {
                EmulatorError::new(format!(
                    "{} did not create the bucket `{name}`: {}; its log is {}",
                    self.name(),
                    aws_sdk_s3::error::DisplayErrorContext(&error),
                    self.log.display()
                ))
            })?;
        Ok(S3Bucket::new(self.s3_client(), name).with_capabilities(self.s3_capabilities()))
    }

    /// What this emulator's S3 honours: S3's capabilities less what the emulator gets wrong.
    ///
    /// - Neither MiniStack nor moto checks `If-Match` or `If-None-Match` on `CopyObject` (both
    ///   copy regardless), so `copy_conditional` is off for both.
    /// - moto answers `UploadPart` and `CompleteMultipartUpload` for an upload that was
    ///   completed or aborted with a 500 (an internal error) instead of `NoSuchUpload`, so
    ///   `multipart` is off for moto. Its other multipart behaviour is sound and can be tested
    ///   with a bucket that declares `multipart` anyway.
    pub fn s3_capabilities(&self) -> Capabilities {
        let mut capabilities = S3Bucket::s3_capabilities();
        capabilities.copy_conditional = false;
        if self.kind == Kind::Moto {
            capabilities.multipart = false;
            capabilities.multipart_conditional = false;
        }
        capabilities
    }
}

impl Drop for Emulator {
    /// Stops the server. Its log is kept when a test is failing, for a look at what the
    /// server saw, and removed otherwise.
    fn drop(&mut self) {
        let pid = self.process.id();
        stop(&mut self.process);
        if self.kind == Kind::MiniStack {
            // What MiniStack leaves in the temporary directory when it is killed: the code of
            // the functions it ran (tens of MiB each) and its pid file.
            let tmp = std::env::temp_dir();
            let _ = fs::remove_dir_all(tmp.join(format!("ministack-provided-code-{pid}")));
            if let Some(port) = self.endpoint.rsplit(':').next() {
                let _ = fs::remove_file(tmp.join(format!("ministack-{port}.pid")));
            }
        }
        if !std::thread::panicking() {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Renames the root element of three moto answers to the one S3 sends.
///
/// moto 5.2 answers `CompleteMultipartUpload` with a `CompleteMultipartUploadResponse`
/// document, `ListParts` with `ListPartsResponse` and `GetBucketVersioning` of a bucket never
/// versioned with `GetBucketVersioningResponse`, where S3 (and so the SDK's parser) has
/// `CompleteMultipartUploadResult`, `ListPartsResult` and `VersioningConfiguration`; the SDK
/// then fails to read an answer that succeeded. This interceptor, installed on moto clients
/// only, buffers small XML answers and renames those roots, so the rest of moto's S3 can be
/// tested as it is.
#[derive(Debug)]
pub struct MotoRootElements;

/// The roots moto gets wrong, and the ones S3 sends.
const MOTO_ROOTS: [(&str, &str); 3] = [
    (
        "CompleteMultipartUploadResponse",
        "CompleteMultipartUploadResult",
    ),
    ("ListPartsResponse", "ListPartsResult"),
    ("GetBucketVersioningResponse", "VersioningConfiguration"),
];

/// XML answers longer than this are left alone (the two answers fixed are a few hundred bytes
/// for the uploads tests make).
const MOTO_FIX_LIMIT: u64 = 1 << 20;

impl Intercept for MotoRootElements {
    fn name(&self) -> &'static str {
        "MotoRootElements"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let is_xml = response
            .headers()
            .get("content-type")
            .is_some_and(|value| value.contains("xml"));
        let small = response
            .headers()
            .get("content-length")
            .and_then(|value| value.parse::<u64>().ok())
            .is_some_and(|len| len <= MOTO_FIX_LIMIT);
        if is_xml && small {
            response.headers_mut().remove("content-length");
            let body = std::mem::replace(response.body_mut(), SdkBody::taken());
            *response.body_mut() = SdkBody::from_body_1_x(RenamedRoot {
                inner: body,
                buffer: Vec::new(),
                done: false,
            });
        }
        Ok(())
    }
}

/// A body read whole, with a wrong root element renamed.
struct RenamedRoot {
    inner: SdkBody,
    buffer: Vec<u8>,
    done: bool,
}

impl http_body::Body for RenamedRoot {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, BoxError>>> {
        use std::task::Poll;
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    self.done = true;
                    let text = String::from_utf8_lossy(&self.buffer).into_owned();
                    let fixed = rename_root(text);
                    return Poll::Ready(Some(Ok(http_body::Frame::data(fixed.into()))));
                }
            }
        }
    }
}

/// `document` with a root element of [`MOTO_ROOTS`] renamed; anything else as it is.
fn rename_root(document: String) -> String {
    let body = document
        .trim_start()
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
        .map_or(document.trim_start(), |(_, rest)| rest)
        .trim_start();
    for (wrong, right) in MOTO_ROOTS {
        let opens = body
            .strip_prefix('<')
            .and_then(|rest| rest.strip_prefix(wrong))
            .is_some_and(|rest| rest.starts_with([' ', '>']));
        if opens {
            return document
                .replacen(&format!("<{wrong}"), &format!("<{right}"), 1)
                .replace(&format!("</{wrong}>"), &format!("</{right}>"));
        }
    }
    document
}

/// Stops a server and whatever it started (it leads its own process group).
fn stop(process: &mut Child) {
    if let Ok(pid) = i32::try_from(process.id()) {
        // SAFETY: `kill` only sends a signal; `-pid` names the process group that the server
        // leads, which holds only the server and its children.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = process.kill();
    let _ = process.wait();
}

/// Starts the server that `command` builds for a port, retrying on another port when it dies
/// at once (another process may have taken the port between choosing and binding it).
async fn start(kind: Kind, command: impl Fn(u16) -> Command) -> Result<Emulator, EmulatorError> {
    let logs = tools_dir().join("logs");
    fs::create_dir_all(&logs).map_err(|error| {
        EmulatorError::new(format!("cannot create {}: {error}", logs.display()))
    })?;
    let mut last_error = None;
    for _ in 0..3 {
        let port = free_port()?;
        let log = logs.join(format!("{}-{port}.log", kind.name()));
        let out = File::create(&log).map_err(|error| {
            EmulatorError::new(format!("cannot create {}: {error}", log.display()))
        })?;
        let err = out.try_clone().map_err(|error| {
            EmulatorError::new(format!("cannot open {}: {error}", log.display()))
        })?;
        let mut command = command(port);
        command
            .current_dir(&logs)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let process = command.spawn().map_err(|error| {
            EmulatorError::new(format!(
                "cannot start {} ({:?}): {error}",
                kind.name(),
                command.get_program()
            ))
        })?;
        let mut emulator = Emulator {
            kind,
            process,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        match wait_until_ready(&mut emulator, port).await {
            Ok(()) => return Ok(emulator),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| EmulatorError::new("the emulator did not start")))
}

/// Polls the health path until it answers 2xx, the process exits, or the start deadline
/// passes.
async fn wait_until_ready(emulator: &mut Emulator, port: u16) -> Result<(), EmulatorError> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = emulator.process.try_wait() {
            return Err(EmulatorError::new(format!(
                "{} exited with {status} before it answered; its output:\n{}",
                emulator.name(),
                log_tail(&emulator.log)
            )));
        }
        if let Ok(status) = http_status(port, emulator.kind.health_path()).await {
            if (200..300).contains(&status) {
                return Ok(());
            }
        }
        if started.elapsed() > START_DEADLINE {
            return Err(EmulatorError::new(format!(
                "{} did not answer on port {port} within {}s; its output:\n{}",
                emulator.name(),
                START_DEADLINE.as_secs(),
                log_tail(&emulator.log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status of `GET path` on the loopback port.
async fn http_status(port: u16, path: &str) -> io::Result<u16> {
    http_call(port, "GET", path).await
}

/// The status of a bodiless `method path` request on the loopback port.
async fn http_call(port: u16, method: &str, path: &str) -> io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
        Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    std::str::from_utf8(&head[..read])
        .ok()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP answer"))
}

/// A port on `127.0.0.1` that was free a moment ago.
fn free_port() -> Result<u16, EmulatorError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| EmulatorError::new(format!("cannot find a free loopback port: {error}")))
}

/// The last few KiB of a log file.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let len = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// A bucket name from `prefix`, unique to this call: lowercase letters, digits and hyphens.
fn unique_bucket_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let prefix: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(30)
        .collect();
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where emulators are installed: `$ALCHEMY_TOOLS_DIR`, else `alchemy-tools` in the Cargo
/// target directory (`$CARGO_TARGET_DIR`, or the one holding the running test binary), else in
/// the system's temporary directory.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ALCHEMY_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("alchemy-tools");
    }
    let target = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map(Path::to_path_buf)
    });
    target
        .unwrap_or_else(std::env::temp_dir)
        .join("alchemy-tools")
}

/// The executable `bin` of a virtual environment `name` in the tools directory, holding
/// `requirement`; installs it if it is missing or half-installed.
async fn venv_tool(name: &str, requirement: &str, bin: &str) -> Result<PathBuf, EmulatorError> {
    let dir = tools_dir().join(name);
    let exe = dir.join("bin").join(bin);
    let marker = dir.join(".installed");
    if marker.is_file() && exe.is_file() {
        return Ok(exe);
    }
    let _in_process = INSTALL.lock().await;
    let _lock = LockFile::acquire(&dir.with_extension("lock")).await?;
    if marker.is_file() && exe.is_file() {
        return Ok(exe);
    }
    let python = find_python()?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|error| {
            EmulatorError::new(format!(
                "cannot remove the half-installed {}: {error}; delete it by hand",
                dir.display()
            ))
        })?;
    }
    let venv = dir.to_string_lossy().into_owned();
    run(
        &python,
        &["-m", "venv", &venv],
        "create a Python virtual environment",
    )
    .await?;
    let pip = dir.join("bin").join("pip");
    run(
        &pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        &format!("install {requirement}"),
    )
    .await?;
    if !exe.is_file() {
        return Err(EmulatorError::new(format!(
            "installing {requirement} gave no {}",
            exe.display()
        )));
    }
    fs::write(&marker, requirement).map_err(|error| {
        EmulatorError::new(format!("cannot write {}: {error}", marker.display()))
    })?;
    Ok(exe)
}

/// The Python 3 interpreter: `$ALCHEMY_PYTHON`, else `python3` on `PATH`.
fn find_python() -> Result<PathBuf, EmulatorError> {
    find_python_in(
        std::env::var_os("ALCHEMY_PYTHON"),
        std::env::var_os("PATH").unwrap_or_default(),
    )
}

/// [`find_python`] with the environment given.
fn find_python_in(chosen: Option<OsString>, path: OsString) -> Result<PathBuf, EmulatorError> {
    if let Some(python) = chosen.filter(|python| !python.is_empty()) {
        return Ok(PathBuf::from(python));
    }
    find_in("python3", &path).ok_or_else(|| {
        EmulatorError::new(
            "python3 is not on PATH, and the AWS emulators (MiniStack, moto) are Python \
            programs: install Python 3.10 or later with its venv module (Debian and Ubuntu: \
            `apt-get install python3 python3-venv`; macOS: `brew install python`), \
            or point ALCHEMY_PYTHON at an interpreter",
        )
    })
}

/// The first executable file called `name` in a `PATH` directory.
fn find_on_path(name: &str) -> Option<PathBuf> {
    find_in(name, &std::env::var_os("PATH")?)
}

/// The first executable file called `name` in the directories of `path`.
fn find_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Runs an install step, failing with its output when it fails.
async fn run(program: &Path, args: &[&str], what: &str) -> Result<(), EmulatorError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| {
            EmulatorError::new(format!(
                "cannot run {} to {what}: {error}",
                program.display()
            ))
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(EmulatorError::new(format!(
        "could not {what} ({} {} exited with {}): {}{}; check the network access to PyPI \
        and that Python's venv module is installed",
        program.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )))
}

/// A lock file held while one process installs a tool; removed when dropped.
struct LockFile {
    path: PathBuf,
}

impl LockFile {
    async fn acquire(path: &Path) -> Result<LockFile, EmulatorError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|error| {
                EmulatorError::new(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(_) => {
                    return Ok(LockFile {
                        path: path.to_owned(),
                    })
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(path)
                        .and_then(|meta| meta.modified())
                        .ok()
                        .and_then(|modified| modified.elapsed().ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = fs::remove_file(path);
                    } else {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
                Err(error) => {
                    return Err(EmulatorError::new(format!(
                        "cannot create the lock {}: {error}",
                        path.display()
                    )))
                }
            }
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_python_the_error_says_how_to_install_it() {
        let empty = std::env::temp_dir().join(format!("alchemy-no-python-{}", std::process::id()));
        fs::create_dir_all(&empty).expect("an empty directory");
        let error = find_python_in(None, empty.clone().into_os_string())
            .expect_err("no python3 in an empty directory");
        let _ = fs::remove_dir(&empty);
        let message = error.to_string();
        assert!(message.contains("python3 is not on PATH"), "{message}");
        assert!(
            message.contains("apt-get install python3 python3-venv"),
            "{message}"
        );
        assert!(message.contains("ALCHEMY_PYTHON"), "{message}");
    }

    #[test]
    fn a_chosen_interpreter_wins_over_path() {
        let python = find_python_in(Some("/opt/python/bin/python3".into()), OsString::new())
            .expect("the chosen interpreter");
        assert_eq!(python, PathBuf::from("/opt/python/bin/python3"));
    }

    #[test]
    fn moto_roots_are_renamed_and_nothing_else() {
        let moto = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
            <CompleteMultipartUploadResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <ETag>\"x-3\"</ETag></CompleteMultipartUploadResponse>";
        assert_eq!(
            rename_root(moto.to_owned()),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
            <CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>"
        );
        assert_eq!(
            rename_root("<ListPartsResponse><Part/></ListPartsResponse>".to_owned()),
            "<ListPartsResult><Part/></ListPartsResult>"
        );
        let unversioned =
            "<GetBucketVersioningResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
        assert_eq!(
            rename_root(unversioned.to_owned()),
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
        );
        let other = "<Error><Code>ListPartsResponse</Code></Error>";
        assert_eq!(rename_root(other.to_owned()), other);
    }

    #[test]
    fn bucket_names_are_valid_and_unique() {
        let a = unique_bucket_name("Conformance_Test");
        let b = unique_bucket_name("Conformance_Test");
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.len() <= 63, "{name} is too long for S3");
            assert!(name.starts_with("conformancetest-"), "{name}");
            assert!(name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }
}
