//! The local console, `bridge dev --ui`: a web page on a loopback port that shows the
//! project's wiring, every routing activity as it happens, the queues, the e-mail outbox, and
//! a form to send an event or test a pattern.
//!
//! It reads the same SQLite state as `dev` through `infra::local` (a connection of its own),
//! and its few writes (receive or delete a message on an explicit click, send an event) are
//! the same `Store` operations the CLI uses. The page (HTML, CSS, JS) is compiled into the
//! binary: nothing is fetched from the network. Live events are server-sent events fed by
//! polling the activity log.
//!
//! Security: loopback by default; every request's `Host` and `Origin` are checked
//! ([`guard`]) so no other web page can read or drive it; no endpoint takes a path, so
//! nothing is written outside the state directory; answers forbid framing and caching.

mod api;
pub mod guard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use infra::local::{Clock, Config, Store};

/// The default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8472";

/// What the console serves.
pub struct Options {
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    pub config: Config,
    /// The project's stack name and directory, for the page title.
    pub stack: String,
    pub project: PathBuf,
    /// The wiring, drawn by `rules::graph`.
    pub graph_svg: String,
}

/// A running console (it runs until the process ends).
#[derive(Debug)]
pub struct Console {
    pub addr: SocketAddr,
}

impl Console {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

pub(crate) struct AppState {
    pub store: Mutex<Store>,
    pub stack: String,
    pub project: PathBuf,
    pub graph_svg: String,
}

/// Binds `options.addr` (port 0: a free port) and serves the console on a thread of its own.
pub fn start(options: Options) -> anyhow::Result<Console> {
    let listener = std::net::TcpListener::bind(options.addr)
        .with_context(|| format!("--ui-addr {}: cannot listen there", options.addr))?;
    let addr = listener.local_addr().context("the console's address")?;
    listener
        .set_nonblocking(true)
        .context("setting the console's socket non-blocking")?;
    let store = Store::open_with(&options.state_dir, options.config, Clock::System)
        .with_context(|| format!("opening local state in {}", options.state_dir.display()))?;
    let state = Arc::new(AppState {
        store: Mutex::new(store),
        stack: options.stack,
        project: options.project,
        graph_svg: options.graph_svg,
    });
    let app = router(state, addr.port());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the console's async runtime")?;
    std::thread::Builder::new()
        .name("bridge-console".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Err(e) = axum::serve(listener, app).await {
                            eprintln!("bridge dev: the console stopped: {e}");
                        }
                    }
                    Err(e) => eprintln!("bridge dev: the console cannot listen: {e}"),
                }
            })
        })
        .context("starting the console's thread")?;
    Ok(Console { addr })
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

fn router(state: Arc<AppState>, port: u16) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/api/overview", get(api::overview))
        .route("/api/graph.svg", get(api::graph))
        .route("/api/activity", get(api::activity))
        .route("/api/stream", get(api::stream))
        .route("/api/events/{id}", get(api::event))
        .route("/api/queues/{name}/messages", get(api::peek))
        .route("/api/queues/{name}/receive", post(api::receive))
        .route("/api/queues/{name}/delete", post(api::delete))
        .route("/api/queues/{name}/redrive", post(api::redrive))
        .route("/api/outbox", get(api::outbox))
        .route("/api/put-event", post(api::put_event))
        .route("/api/test-pattern", post(api::test_pattern))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(port, guard_layer))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Refuses foreign `Host`/`Origin` (see [`guard`]); adds headers that keep the page from
/// being framed, sniffed, cached or given scripts from elsewhere.
async fn guard_layer(State(port): State<u16>, request: Request, next: Next) -> Response {
    let verdict = {
        let headers = request.headers();
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("(not text)").to_string())
        };
        guard::check(
            text(header::HOST).as_deref(),
            text(header::ORIGIN).as_deref(),
            port,
        )
    };
    let mut response = match verdict {
        Ok(()) => next.run(request).await,
        Err(refusal) => (
            StatusCode::FORBIDDEN,
            format!("bridge console: {refusal}\n"),
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
