//! What is done with each event: a [`Handler`] returns `Ok` when the event is done (the
//! message may be deleted) and an error when it must be retried (the message stays).

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::event::Event;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why an event was not handled. The text never contains the event itself.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl HandlerError {
    pub fn new(message: impl Into<String>) -> HandlerError {
        HandlerError(message.into())
    }
}

/// Handles one normalized [`Event`]. Called concurrently from several tasks.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, event: &Event) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A handler from an async closure: `handler_fn(|event: Event| async move { ... })`.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    FnHandler(f)
}

/// See [`handler_fn`].
pub struct FnHandler<F>(F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, event: &Event) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(event.clone())
    }
}

/// The event as the built-in handlers send it ([`Event::handler_json_bytes`]).
fn event_bytes(event: &Event) -> Result<Vec<u8>, HandlerError> {
    event
        .handler_json_bytes()
        .map_err(|e| HandlerError::new(format!("cannot serialize the event: {e}")))
}

/// One JSON line per event on stdout, for piping into `jq` and friends. Fails (so the
/// message is kept) only when stdout itself fails, e.g. the reader went away.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonlStdout;

impl Handler for JsonlStdout {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let mut line = event_bytes(event)?;
        line.push(b'\n');
        let mut out = std::io::stdout().lock();
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| HandlerError::new(format!("cannot write to stdout: {e}")))
    }
}

/// Runs `sh -c CMD` per event with the event as JSON on stdin; exit 0 means done. A command
/// that outlives `timeout` is killed and counts as a failure.
///
/// Each command runs in a process group of its own (on Unix): a timeout, or the consumer
/// abandoning the handler at shutdown, kills the whole group — `sh` and everything it
/// started — so that no part of a handler keeps running while its message is redelivered.
#[derive(Debug, Clone)]
pub struct Exec {
    pub command: String,
    pub timeout: Duration,
}

/// Kills a command's process group when dropped, unless disarmed: the handler's future may
/// be dropped at any await (timeout, shutdown), and the group must not outlive it.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(pgid) = self.0.take().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals the process group `pgid`, which
            // this handler created (process_group(0) below) and whose leader it has not
            // reaped yet or whose members may still run; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Handler for Exec {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let input = event_bytes(event)?;
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .stdin(std::process::Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(|e| {
            HandlerError::new(format!("cannot start `sh -c {}`: {e}", self.command))
        })?;
        // Declared after `child`, so dropped first: the group dies before `sh` is reaped.
        let mut group = ProcessGroup(child.id());
        let run = async {
            if let Some(mut stdin) = child.stdin.take() {
                // A command that does not read its input closes the pipe early; that is
                // its business, not a failure.
                let _ = stdin.write_all(&input).await;
                let _ = stdin.write_all(b"\n").await;
            }
            child.wait().await
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => {
                // `sh` is done (and reaped): what it left in the background is its own.
                group.disarm();
                match result {
                    Ok(status) if status.success() => Ok(()),
                    Ok(status) => {
                        Err(HandlerError::new(format!("command exited with {status}")))
                    }
                    Err(e) => Err(HandlerError::new(format!("waiting for the command: {e}"))),
                }
            }
            Err(_) => {
                group.kill();
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(HandlerError::new(format!(
                    "command timed out after {:?} and was killed (with its process group)",
                    self.timeout
                )))
            }
        }
    }
}

/// POSTs the event as JSON to an `http://` URL; any 2xx status means done.
///
/// A deliberately small HTTP/1.1 client (one connection per event, `Connection: close`):
/// webhooks on the same host or network are the use case. HTTPS is not supported — put a
/// local proxy in front, or use `--exec` with curl.
#[derive(Debug, Clone)]
pub struct Http {
    host: String,
    port: u16,
    path: String,
    pub timeout: Duration,
}

impl Http {
    pub fn new(url: &str, timeout: Duration) -> Result<Http, HandlerError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            HandlerError::new(format!(
                "--http {url}: only http:// URLs are supported (https: use --exec with curl)"
            ))
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse()
                    .map_err(|_| HandlerError::new(format!("--http {url}: bad port {p:?}")))?,
            ),
            None => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(HandlerError::new(format!("--http {url}: no host")));
        }
        Ok(Http {
            host,
            port,
            path: path.to_string(),
            timeout,
        })
    }

    async fn post(&self, body: &[u8]) -> Result<u16, std::io::Error> {
        let mut stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut response = Vec::new();
        let mut buf = [0u8; 1024];
        // The status line is all that matters; stop reading once it is complete.
        while !response.contains(&b'\n') {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&response);
        line.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status line in the response"))
    }
}

impl Handler for Http {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let body = event_bytes(event)?;
        match tokio::time::timeout(self.timeout, self.post(&body)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => Ok(()),
            Ok(Ok(status)) => Err(HandlerError::new(format!("POST returned HTTP {status}"))),
            Ok(Err(e)) => Err(HandlerError::new(format!("POST failed: {e}"))),
            Err(_) => Err(HandlerError::new(format!(
                "POST timed out after {:?}",
                self.timeout
            ))),
        }
    }
}
