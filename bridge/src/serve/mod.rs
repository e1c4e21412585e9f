//! `bridge dev --serve`: the embedded backend behind AWS's own wire protocols, so that an
//! application's unchanged SDK code (`AWS_ENDPOINT_URL=http://127.0.0.1:4566`) uploads to the
//! local buckets, puts events on the local buses and reads the local queues.
//!
//! One HTTP/1.1 listener serves every service; a request is routed by what it carries:
//! - `X-Amz-Target: AmazonSQS.*` — SQS's JSON protocol ([`sqs`]);
//! - `X-Amz-Target: AWSEvents.*` — EventBridge's JSON 1.1 protocol ([`events`]);
//! - a form-encoded `Action=…` — the query protocol: SNS ([`sns`]) or SQS ([`sqs`]), told
//!   apart by the signature's credential scope (`…/sns/aws4_request`) or else by the action;
//! - anything else — S3's REST protocol, path-style or virtual-host-style ([`s3`]).
//!
//! Every operation goes through [`infra::local`] on the same SQLite state `bridge dev` uses
//! (a small pool of [`Store`] connections, used on blocking threads, for reads): no second
//! copy of any state. Writes go through one [`GroupCommit`] writer instead — PutEvents,
//! SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch), and through
//! [`GroupCommit::write`] S3 object writes and deletes, SNS Publish(Batch) and PurgeQueue —
//! so that concurrent requests share a transaction and a commit (one fsync for the changes
//! that must reach the disk) rather than queue for SQLite's lock, one commit each. `bridge
//! dev` hands the server its own writer ([`ServeOptions::writer`]), so its bucket scans,
//! schedules and replays join the same groups.
//! Signatures are accepted and not verified; any access key works.

mod events;
mod protocol;
mod s3;
mod sns;
mod sqs;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use infra::local::{Clock, Config, GroupCommit, LocalError, Store, WriteTx};

pub use protocol::ApiError;
use protocol::Body;

/// The address `--serve` listens on when none is given (LocalStack's port, which SDKs and
/// tools are used to).
pub const DEFAULT_ADDR: &str = "127.0.0.1:4566";

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// The local state directory (the one `bridge dev` uses).
    pub state_dir: PathBuf,
    pub config: Config,
    /// The process's group-commit writer on that state (`bridge dev`'s), which the server's
    /// writes join; `None`: the server starts one of its own.
    pub writer: Option<Arc<GroupCommit>>,
}

/// A running server: its address, and the thread that runs it (ended with the process).
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
}

/// Whether an address is only reachable from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Binds `opts.addr` now (so a taken port fails here, with the address) and serves on a
/// thread of its own with its own tokio runtime; `bridge dev` goes on with its loop.
pub fn start(opts: ServeOptions) -> anyhow::Result<Server> {
    use anyhow::Context;
    let listener = TcpListener::bind(opts.addr)
        .with_context(|| format!("cannot listen on {} (--serve ADDR)", opts.addr))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    // Fail now, not at the first request, if the state cannot be opened.
    let open = || {
        Store::open_with(&opts.state_dir, opts.config.clone(), Clock::System)
            .with_context(|| format!("opening local state in {}", opts.state_dir.display()))
    };
    let store = open()?;
    let writer = match opts.writer {
        Some(writer) => writer,
        None => Arc::new(GroupCommit::new(open()?)?),
    };
    let shared = Arc::new(Shared {
        state_dir: opts.state_dir,
        config: opts.config,
        pool: Mutex::new(vec![store]),
        writer,
        arrivals: tokio::sync::Notify::new(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("bridge-serve")
        .build()
        .context("starting the server's runtime")?;
    std::thread::Builder::new()
        .name("bridge-serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => accept_loop(listener, shared).await,
                    Err(e) => eprintln!("bridge dev --serve: {e}"),
                }
            })
        })
        .context("starting the server thread")?;
    Ok(Server { addr })
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bridge dev --serve: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What every request handler shares: the state's location and a pool of connections to it.
pub(crate) struct Shared {
    state_dir: PathBuf,
    config: Config,
    pool: Mutex<Vec<Store>>,
    /// The writer every write shares (group commit).
    writer: Arc<GroupCommit>,
    /// Woken after every write the server makes that can make a message receivable, so a
    /// long-polling ReceiveMessage answers at once. Writes by other processes (`put-event
    /// --local`, `dev`'s bucket scans) are seen by the 100 ms re-check.
    arrivals: tokio::sync::Notify,
}

impl Shared {
    /// Runs `f` with a store from the pool on a blocking thread (SQLite calls block, and a
    /// commit waits for fsync).
    pub(crate) async fn store<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, LocalError> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = me.pool.lock().ok().and_then(|mut p| p.pop());
            let mut store = match taken {
                Some(s) => s,
                None => Store::open_with(&me.state_dir, me.config.clone(), Clock::System)?,
            };
            let out = f(&mut store);
            if let Ok(mut pool) = me.pool.lock() {
                if pool.len() < 8 {
                    pool.push(store);
                }
            }
            out
        })
        .await
        .map_err(|e| ApiError::internal(format!("request handler failed: {e}")))?
        .map_err(ApiError::from)
    }

    /// Runs `f` with the group-commit writer on a blocking thread (a call returns after the
    /// commit that holds it).
    pub(crate) async fn writer<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&GroupCommit) -> Result<T, LocalError> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me.writer))
            .await
            .map_err(|e| ApiError::internal(format!("request handler failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// Runs `f` inside the writer's next group commit ([`GroupCommit::write`]) on a blocking
    /// thread; returns after that commit (and its fsync, if `f` changed what must last).
    pub(crate) async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTx<'_>) -> Result<T, LocalError> + Send + 'static,
    {
        self.writer(move |w| w.write(f)).await
    }

    pub(crate) fn wake_receivers(&self) {
        self.arrivals.notify_waiters();
    }

    pub(crate) fn region(&self) -> &str {
        &self.config.region
    }

    pub(crate) fn account(&self) -> &str {
        &self.config.account
    }
}

/// Routes one request to its service by protocol (see the module documentation).
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let target = header(&req, "x-amz-target");
    // Query-protocol calls are POSTs to `/` (or to a queue URL, `/<account>/<queue>`); an S3
    // upload whose Content-Type happens to be a form is a PUT to a key.
    let path = req.uri().path();
    let api_path = path == "/"
        || path
            .trim_matches('/')
            .split_once('/')
            .is_some_and(|(account, queue)| {
                account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && !queue.contains('/')
            });
    let form = req.method() == hyper::Method::POST
        && api_path
        && header(&req, "content-type")
            .map(|c| c.starts_with("application/x-www-form-urlencoded"))
            .unwrap_or(false);
    let query_action = api_path
        && req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "Action"))
            .unwrap_or(false);
    let host = header(&req, "host").unwrap_or_default();
    let response = if let Some(target) = target {
        let body = match read_small_body(req).await {
            Ok(b) => b,
            Err(e) => return Ok(e.json("", None)),
        };
        if let Some(op) = target.strip_prefix("AmazonSQS.") {
            sqs::json(&shared, op, &host, &body).await
        } else if let Some(op) = target.strip_prefix("AWSEvents.") {
            events::json(&shared, op, &body).await
        } else {
            ApiError::unknown_operation(&target).json("", None)
        }
    } else if form || query_action {
        let scope = header(&req, "authorization")
            .and_then(|a| credential_service(&a))
            .unwrap_or_default();
        let path = req.uri().path().to_string();
        let mut params: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        match read_small_body(req).await {
            Ok(body) => params.extend(form_urlencoded::parse(&body).into_owned()),
            Err(e) => return Ok(e.query_xml(protocol::SQS_XMLNS)),
        }
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if scope == "sns" || (scope.is_empty() && sns::ACTIONS.contains(&action.as_str())) {
            sns::query(&shared, &action, &params).await
        } else {
            sqs::query(&shared, &action, params, &host, &path).await
        }
    } else {
        s3::handle(&shared, req).await
    };
    Ok(response)
}

/// The service named in a SigV4 `Authorization` header's credential scope.
fn credential_service(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

pub(crate) fn header<B>(req: &Request<B>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The most a JSON or query request body may hold (SQS and EventBridge take at most 1 MiB).
const MAX_API_BODY: usize = 2 << 20;

async fn read_small_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_API_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(ApiError::bad_request(
            "InvalidRequest",
            format!("cannot read the request body (at most {MAX_API_BODY} bytes): {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_service_is_read_from_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(super::credential_service(auth).as_deref(), Some("sns"));
        assert_eq!(super::credential_service("Bearer x"), None);
    }
}
