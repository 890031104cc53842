//! `photo-share dev` as a real process on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `dev` server.
pub struct Dev {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Dev {
    /// Starts `photo-share dev --port 0` in `dir` with extra environment, and waits for its URL.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Dev {
        Self::start_with_args(dir, &[], env)
    }

    /// Like [`Dev::start`], with more arguments for `dev`.
    pub fn start_with_args(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Dev {
        Self::start_program(env!("CARGO_BIN_EXE_photo-share-app"), dir, args, env)
    }

    /// Starts `program dev --port 0 args...` in `dir`, and waits for the URL of its `api`.
    pub fn start_program(program: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Dev {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir)
            .args(["dev", "--port", "0"])
            .args(args)
            .env_remove("ALCHEMY_STATE_DIR")
            .env_remove("ALCHEMY_STAGE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the app starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("dev printed its URL before it ended")
                .unwrap();
            if let Some(url) = line.strip_prefix("api: ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Dev { child, url }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The peak resident memory of the server so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Stops it as Ctrl-C does, and waits for it to finish.
    pub fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "dev exits cleanly on Ctrl-C: {status}");
    }

    /// Kills it with SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
