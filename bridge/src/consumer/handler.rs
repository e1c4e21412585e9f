//! What is done with each event: a [`Handler`] returns `Ok` when the event is done (the
//! message may be deleted) and an error when it must be retried (the message stays).

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::event::Event;

use tokio::io::AsyncWriteExt;

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

    /// [`Handler::handle`] for an event the caller is done with: what the consumer runtime
    /// calls. Override it when the handler wants the event by value (as [`handler_fn`]'s
    /// closure does), to save a copy.
    fn handle_owned(&self, event: Event) -> impl Future<Output = Result<(), HandlerError>> + Send {
        // Boxed: an `Event` is about a kilobyte, which the future would otherwise carry.
        let event = Box::new(event);
        async move { self.handle(&event).await }
    }
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

    fn handle_owned(&self, event: Event) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(event)
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
                    Ok(status) => Err(HandlerError::new(format!("command exited with {status}"))),
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

/// POSTs the event as JSON to an `http://` or `https://` URL; a 2xx status means done.
///
/// HTTP/1.1 through hyper (the HTTP stack the AWS SDK already uses), HTTPS through rustls
/// with the system's root certificates. Redirects are not followed (a 3xx is a failure: the
/// event was not delivered), connections are not reused, and the whole request — connect,
/// TLS, response head — has `timeout`. A `user:password@` in the URL is sent as HTTP Basic
/// authorization and never shown: errors and `Debug` print the URL with the password hidden.
#[derive(Clone)]
pub struct Http {
    uri: hyper::Uri,
    /// The URL as messages show it (password replaced by `***`).
    shown: String,
    authorization: Option<hyper::header::HeaderValue>,
    client: HttpClient,
    pub timeout: Duration,
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("url", &self.shown)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub fn new(url: &str, timeout: Duration) -> Result<Http, HandlerError> {
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
            })
            .ok_or_else(|| {
                HandlerError::new("--http: the URL must start with http:// or https://")
            })?;
        let scheme = scheme.to_ascii_lowercase();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let shown = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
                None => format!("{scheme}://{u}@{host}{tail}"),
            },
            None => format!("{scheme}://{host}{tail}"),
        };
        // The fragment is not part of a request.
        let tail = tail.split('#').next().unwrap_or("");
        let uri: hyper::Uri = format!("{scheme}://{host}{tail}")
            .parse()
            .map_err(|e| HandlerError::new(format!("--http {shown}: not a valid URL: {e}")))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(HandlerError::new(format!("--http {shown}: no host")));
        }
        let authorization = match userinfo {
            Some(u) => {
                let value = format!("Basic {}", base64(u.as_bytes()));
                let mut value = hyper::header::HeaderValue::from_str(&value).map_err(|_| {
                    HandlerError::new(format!("--http {shown}: bad user name or password"))
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let client = http_client(&scheme, timeout)
            .map_err(|e| HandlerError::new(format!("--http {shown}: {e}")))?;
        Ok(Http {
            uri,
            shown,
            authorization,
            client,
            timeout,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<hyper::StatusCode, String> {
        let mut request = hyper::Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("bridge/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(auth) = &self.authorization {
            request = request.header(hyper::header::AUTHORIZATION, auth.clone());
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| error_chain(&e))?;
        // The status is the answer; the body (if any) is not read.
        Ok(response.status())
    }
}

/// A client that follows no redirects and keeps no idle connections. For `https`, the
/// system's root certificates must be found; `http` needs none.
fn http_client(scheme: &str, timeout: Duration) -> Result<HttpClient, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if scheme == "https" {
        builder
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
    } else {
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder.with_tls_config(config)
    };
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    let connector = builder.https_or_http().enable_http1().wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector),
    )
}

/// An error and its causes, `: `-joined (hyper's top-level messages say little alone).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Standard base64 with padding (HTTP Basic credentials).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Handler for Http {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let body = event_bytes(event)?;
        let shown = &self.shown;
        match tokio::time::timeout(self.timeout, self.post(body)).await {
            Ok(Ok(status)) if status.is_success() => Ok(()),
            Ok(Ok(status)) if status.is_redirection() => Err(HandlerError::new(format!(
                "POST {shown} returned HTTP {status} (redirects are not followed)"
            ))),
            Ok(Ok(status)) => Err(HandlerError::new(format!(
                "POST {shown} returned HTTP {status}"
            ))),
            Ok(Err(e)) => Err(HandlerError::new(format!("POST {shown} failed: {e}"))),
            Err(_) => Err(HandlerError::new(format!(
                "POST {shown} timed out after {:?}",
                self.timeout
            ))),
        }
    }
}
