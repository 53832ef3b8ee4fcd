//! A booted normal image under QEMU that mk talks to like a person at the
//! serial terminal: it reads the console's bytes as they come (a shell
//! prompt has no line end, so reading by lines would never see it) and
//! types into the console. Used by the boot smoke test and the shell
//! sessions (`smoke.rs`, `session.rs`).
//!
//! May touch: the QEMU child it starts, its pipes, and the serial log file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::qemu::Firmware;
use crate::workspace::Workspace;

/// A running guest and everything its serial console printed so far.
pub struct Guest {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
    log: File,
    started: Instant,
    /// Every byte the console printed, in order.
    pub output: Vec<u8>,
}

impl Guest {
    /// Boots `image` the way every test boot runs (see
    /// `check::test_qemu_command`), with the serial console on pipes.
    pub fn start(
        ws: &Workspace,
        image: &Path,
        firmware: Option<&Firmware>,
        log_path: &Path,
        smp: u32,
    ) -> Result<Guest, String> {
        Guest::start_with(ws, image, firmware, log_path, smp, true)
    }

    /// [`Guest::start`]; with `fresh_disks` false, the data disk is the one
    /// the last boot of `image` left.
    pub fn start_with(
        ws: &Workspace,
        image: &Path,
        firmware: Option<&Firmware>,
        log_path: &Path,
        smp: u32,
        fresh_disks: bool,
    ) -> Result<Guest, String> {
        Guest::spawn(crate::check::test_qemu_command_with(ws, image, firmware, smp, fresh_disks), log_path)
    }

    /// Starts QEMU as `cmd` says (its serial console on stdio), the
    /// console's bytes kept in `log_path` too.
    pub fn spawn(mut cmd: std::process::Command, log_path: &Path) -> Result<Guest, String> {
        let log = crate::process::create_log(log_path)?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        println!("mk: {}", crate::process::describe(&cmd));
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| crate::process::spawn_error(&cmd, e))?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (tx, chunks) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Guest { child, stdin, chunks, reader: Some(reader), log, started, output: Vec::new() })
    }

    /// Time since QEMU started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Takes in what the console printed, waiting up to `wait` for the
    /// first bytes. Returns whether anything came; `Err` once QEMU is gone.
    pub fn poll(&mut self, wait: Duration) -> Result<bool, String> {
        match self.chunks.recv_timeout(wait) {
            Ok(chunk) => {
                let _ = self.log.write_all(&chunk);
                self.output.extend_from_slice(&chunk);
                while let Ok(more) = self.chunks.try_recv() {
                    let _ = self.log.write_all(&more);
                    self.output.extend_from_slice(&more);
                }
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => Err(String::from("QEMU exited")),
        }
    }

    /// Reads until `done(output)` holds and then nothing more arrives for
    /// `quiet`, or until `timeout` passes. Returns whether `done` held.
    pub fn wait_until(&mut self, timeout: Duration, quiet: Duration, done: impl Fn(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.output) {
                // Settled: the last bytes are in and nothing follows.
                match self.poll(quiet) {
                    Ok(false) => return true,
                    Ok(true) => continue,
                    Err(_) => return true,
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.poll(left.min(Duration::from_millis(100))).is_err() {
                return done(&self.output);
            }
        }
    }

    /// Waits up to `timeout` for QEMU to exit on its own (reading what the
    /// console prints meanwhile); its exit status, or `Err` if it is still
    /// running then.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.poll(Duration::from_millis(100)).is_err() {
                // The console closed: QEMU is ending.
                return self.child.wait().map_err(|e| format!("waiting for QEMU: {e}"));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Ok(status);
            }
        }
        Err(format!("QEMU still runs {} s later", timeout.as_secs()))
    }

    /// Cuts the power: kills QEMU at once, then takes in what its console
    /// had printed by then.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..50 {
            if self.poll(Duration::from_millis(100)).is_err() {
                break;
            }
        }
    }

    /// Types `text` on the serial console.
    pub fn type_text(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the console's input is closed")?;
        stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush()).map_err(|e| format!("typing: {e}"))
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
