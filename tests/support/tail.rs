//! A running `bridge tail`: its JSON lines read on a thread, its stderr read up to the
//! "waiting for events" line (shared by the tail tests against moto and `dev --serve`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Tail {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub stderr: ChildStderr,
}

impl Tail {
    /// Spawns `cmd` (a `bridge tail …` command line) with its output piped.
    pub fn spawn(mut cmd: Command) -> Tail {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bridge tail");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Tail {
            child,
            lines,
            stderr,
        }
    }

    /// Reads stderr up to the "waiting for events" line; returns the session name.
    pub fn ready(&mut self) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.stderr.read(&mut byte) {
                Ok(1) => {
                    seen.push(byte[0]);
                    let text = String::from_utf8_lossy(&seen);
                    if text.ends_with('\n') && text.contains("waiting for events") {
                        let name = text
                            .split_whitespace()
                            .find(|w| w.starts_with("bridge-tail-"))
                            .expect("session name")
                            .to_string();
                        return name;
                    }
                }
                _ => panic!(
                    "bridge tail ended before it was ready:\n{}",
                    String::from_utf8_lossy(&seen)
                ),
            }
        }
    }

    pub fn next_line(&self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("an event from bridge tail within 20 s");
        serde_json::from_str(&line).expect("one JSON event per line")
    }

    pub fn rest_of_stderr(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stderr.read_to_string(&mut rest);
        rest
    }
}
