//! `bridge dev --ui`, the local console: the real binary serving the example project on a
//! free loopback port, checked over raw HTTP (Host/Origin refusal) and in headless Chromium
//! driven over WebDriver (chromedriver + fantoccini). Screenshots of each view go to
//! `target/ui-screenshots/`.
//!
//! The browser test needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them it fails saying how to install them, unless
//! `BRIDGE_SKIP_BROWSER_TESTS=1` skips it on purpose.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use infra::local::{SendRequest, Store};
use serde_json::{json, Value};
use support::{bridge_bin, repo_root};

/// `bridge dev --example`-like run of `examples/` with the console on a free port.
struct Dev {
    child: Child,
    addr: SocketAddr,
    state: PathBuf,
    output: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Dev {
    fn start() -> Dev {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let mut child = Command::new(bridge_bin())
            .args(["dev", "--project"])
            .arg(repo_root().join("examples"))
            .arg("--local")
            .arg(&state)
            .args(["--interval-ms", "100", "--ui", "--ui-addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bridge dev");
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let output = Arc::clone(&output);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix("console: ") {
                        let _ = tx.send(url.to_string());
                    }
                    let mut out = output.lock().expect("output lock");
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "bridge dev --ui printed no console URL:\n{}",
                    output.lock().expect("output lock")
                );
            }
        };
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("console URL {url:?}: {e}"));
        Dev {
            child,
            addr,
            state,
            output,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn store(&self) -> Store {
        Store::open(&self.state).expect("open the dev state")
    }

    fn depth(&self, queue: &str) -> (u64, u64) {
        let c = self.store().queue_counts(queue).expect("queue counts");
        (c.visible, c.in_flight)
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with exactly these headers; the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the console");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("send request");
    let response = read_response(&mut stream);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The response on `stream`: up to the end of its `Content-Length` body, else to the end of
/// the stream. chromedriver keeps the connection open despite `Connection: close`, so reading
/// to the end of the stream waited out the 30 s read timeout on every call to it.
fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return response,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
        let Some(head_end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&response[..head_end]);
        let length = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        if length.is_some_and(|len| response.len() >= head_end + 4 + len) {
            return response;
        }
    }
}

fn quilt_event() -> Value {
    let path = repo_root()
        .join("examples")
        .join("events")
        .join("quilt-package-revision.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("example event"))
        .expect("example event JSON")
}

#[test]
fn foreign_host_and_origin_are_refused() {
    let dev = Dev::start();
    let port = dev.addr.port();
    let own = format!("127.0.0.1:{port}");
    let own_origin = format!("http://{own}");

    let (status, body) = http(dev.addr, "GET", "/", &[("Host", &own)], "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("bridge console"), "{body}");
    let (status, _) = http(
        dev.addr,
        "GET",
        "/api/overview",
        &[("Host", &format!("localhost:{port}"))],
        "",
    );
    assert_eq!(status, 200);

    // DNS rebinding: a name that resolves to 127.0.0.1 still names itself in Host.
    for path in ["/", "/api/overview", "/api/stream", "/api/outbox"] {
        let (status, body) = http(
            dev.addr,
            "GET",
            path,
            &[("Host", &format!("evil.example:{port}"))],
            "",
        );
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("DNS rebinding"), "{path}: {body}");
    }
    let (status, _) = http(dev.addr, "GET", "/api/overview", &[], "");
    assert_eq!(status, 403, "a request without Host is refused");

    // Another page's script (its Origin) cannot send events, even to the right Host.
    let event = quilt_event();
    let send = json!({
        "source": event["source"],
        "detail_type": event["detail-type"],
        "detail": event["detail"].to_string(),
    })
    .to_string();
    let before = dev.depth("example-events");
    for origin in [
        "http://evil.example",
        "null",
        &format!("http://localhost:{port}"),
    ] {
        let (status, body) = http(
            dev.addr,
            "POST",
            "/api/put-event",
            &[
                ("Host", &own),
                ("Origin", origin),
                ("Content-Type", "application/json"),
            ],
            &send,
        );
        assert_eq!(status, 403, "Origin {origin}: {body}");
        assert!(body.contains("other web pages cannot use it"), "{body}");
    }
    assert_eq!(
        dev.depth("example-events"),
        before,
        "refused means not sent"
    );

    // The console's own page may.
    let (status, body) = http(
        dev.addr,
        "POST",
        "/api/put-event",
        &[
            ("Host", &own),
            ("Origin", &own_origin),
            ("Content-Type", "application/json"),
        ],
        &send,
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON answer");
    assert_eq!(answer["FailedEntryCount"], 0, "{body}");
    assert!(answer["Entries"][0]["EventId"].is_string(), "{body}");
    assert_eq!(
        dev.depth("example-events"),
        (before.0 + 1, before.1),
        "the accepted event was routed to the queue"
    );
}

// ---- in a real browser ---------------------------------------------------------------------

/// `chromedriver` on a free port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn start_driver() -> Driver {
    let install = "install Debian's Chromium and its WebDriver (`apt-get install -y chromium \
                   chromium-driver`; .ci/run does), or set BRIDGE_SKIP_BROWSER_TESTS=1 to skip \
                   the browser tests on purpose";
    let Some(driver) = find_on_path("chromedriver") else {
        panic!("chromedriver is not on PATH: {install}");
    };
    if find_on_path("chromium").is_none() {
        panic!("chromium is not on PATH: {install}");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(addr).is_ok() {
            let (status, body) = http(addr, "GET", "/status", &[("Host", "127.0.0.1")], "");
            if status == 200 && body.contains("\"ready\":true") {
                return driver;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// The browser's console messages since the last call (chromedriver's log endpoint).
fn browser_log(driver: &Driver, session: &str) -> Vec<Value> {
    let addr: SocketAddr = ([127, 0, 0, 1], driver.port).into();
    let (status, body) = http(
        addr,
        "POST",
        &format!("/session/{session}/se/log"),
        &[("Host", "127.0.0.1"), ("Content-Type", "application/json")],
        r#"{"type":"browser"}"#,
    );
    assert_eq!(status, 200, "reading the browser log: {body}");
    let v: Value = serde_json::from_str(&body).expect("log JSON");
    v["value"].as_array().cloned().unwrap_or_default()
}

fn assert_no_console_errors(driver: &Driver, session: &str, view: &str) {
    let errors: Vec<Value> = browser_log(driver, session)
        .into_iter()
        .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
        .collect();
    assert!(errors.is_empty(), "console errors on {view}: {errors:#?}");
}

/// The text of the first element matching `css`, waiting up to `secs` for one whose text
/// satisfies `ok`.
async fn wait_text(c: &Client, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    loop {
        if let Ok(elements) = c.find_all(Locator::Css(css)).await {
            for e in elements {
                if let Ok(text) = e.text().await {
                    if ok(&text) {
                        return text;
                    }
                    last = text;
                }
            }
        }
        if Instant::now() >= deadline {
            panic!("no {css} satisfied the test within {secs} s (last text: {last:?})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

#[test]
fn console_in_a_browser() {
    if std::env::var("BRIDGE_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
        eprintln!(
            "SKIPPED: the console's browser test (BRIDGE_SKIP_BROWSER_TESTS=1); it needs \
             Debian's chromium and chromium-driver"
        );
        return;
    }
    let driver = start_driver();
    let dev = Dev::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(browse(&driver, &dev));
}

async fn browse(driver: &Driver, dev: &Dev) {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in headless Chromium");
    let session = c
        .session_id()
        .await
        .expect("session id")
        .expect("a session");
    let result = std::panic::AssertUnwindSafe(views(&c, driver, &session, dev));
    let outcome = futures_util::FutureExt::catch_unwind(result).await;
    let _ = c.close().await;
    if let Err(panic) = outcome {
        eprintln!(
            "bridge dev output:\n{}",
            dev.output.lock().expect("output lock")
        );
        std::panic::resume_unwind(panic);
    }
}

async fn views(c: &Client, driver: &Driver, session: &str, dev: &Dev) {
    // Wiring: the page loads, connects to the live stream, draws the graph; no console errors.
    c.goto(&dev.url()).await.expect("open the console");
    wait_text(c, "#status", 10, |t| t == "live").await;
    let nodes = c
        .find_all(Locator::Css("#graph g.node"))
        .await
        .expect("graph nodes");
    assert!(nodes.len() >= 6, "the wiring has the example's nodes");
    for (kind, name) in [
        ("bucket", "raw-data"),
        ("rule", "png-uploads"),
        ("queue", "example-events"),
        ("topic", "package-alerts"),
    ] {
        c.find(Locator::Css(&format!(
            "#graph g.node[data-kind={kind}][data-name={name}]"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {kind} {name} in the wiring: {e}"));
    }
    screenshot(c, "wiring").await;
    assert_no_console_errors(driver, session, "the wiring view");

    // Events: a file written into the local bucket shows up without a reload, within 2 s.
    click(c, "nav a[data-view=events]").await;
    let key = format!("uploads/ui-{}.png", std::process::id());
    let file = dev.state.join("buckets").join("raw-data").join(&key);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("bucket dir");
    let written = Instant::now();
    std::fs::write(&file, b"\x89PNG not really").expect("write into the bucket");
    let row = "#event-list tr.event-row";
    wait_text(c, row, 2, |t| t.contains("rule default/png-uploads")).await;
    assert!(
        written.elapsed() <= Duration::from_secs(2),
        "the event appeared after {:?}",
        written.elapsed()
    );
    wait_text(c, row, 2, |t| {
        t.contains("bucket raw-data notification bridge:bridge-example:uploads")
    })
    .await;
    screenshot(c, "events").await;

    // Opening it: the matched rule, the envelope, and the body the target got.
    let rows = c.find_all(Locator::Css(row)).await.expect("rows");
    let mut opened = false;
    for r in rows {
        if r.text().await.expect("row text").contains("png-uploads") {
            r.click().await.expect("open the event");
            opened = true;
            break;
        }
    }
    assert!(opened);
    wait_text(c, "#detail-rules .rule", 5, |t| t == "default/png-uploads").await;
    let envelope = wait_text(c, "#event-detail pre.envelope", 5, |t| t.contains(&key)).await;
    assert!(
        envelope.contains("\"detail-type\": \"Object Created\""),
        "{envelope}"
    );
    let body = wait_text(c, "#event-detail pre.delivery-body", 5, |t| {
        t.contains(&key)
    })
    .await;
    assert!(body.contains("\"source\": \"aws.s3\""), "{body}");
    screenshot(c, "event").await;

    // Queues: the depth the state has, then receive and delete on explicit clicks.
    click(c, "nav a[data-view=queues]").await;
    assert_eq!(dev.depth("example-events"), (1, 0));
    // S3's test event (sent when the notification was configured) and the upload's.
    assert_eq!(dev.depth("raw-data-uploads"), (2, 0));
    let q = "#queue-table tr[data-queue=example-events]";
    wait_text(c, &format!("{q} td.available"), 5, |t| t == "1").await;
    wait_text(c, &format!("{q} td.in-flight"), 5, |t| t == "0").await;
    wait_text(
        c,
        "#queue-table tr[data-queue=raw-data-uploads] td.available",
        5,
        |t| t == "2",
    )
    .await;
    click(c, q).await;
    wait_text(c, "#queue-detail .message.peeked pre", 5, |t| {
        t.contains(&key)
    })
    .await;
    assert_eq!(
        dev.depth("example-events"),
        (1, 0),
        "peeking receives nothing"
    );
    screenshot(c, "queues").await;
    click(c, "#receive-btn").await;
    wait_text(c, &format!("{q} td.in-flight"), 5, |t| t == "1").await;
    assert_eq!(dev.depth("example-events"), (0, 1));
    click(c, "#queue-detail .delete-btn").await;
    wait_text(c, &format!("{q} td.in-flight"), 5, |t| t == "0").await;
    assert_eq!(dev.depth("example-events"), (0, 0));

    // Redrive: a message in the dead-letter queue goes back to its source on a click.
    dev.store()
        .send_message(
            "example-events-dlq",
            &SendRequest::body(r#"{"poison": true}"#),
        )
        .expect("send to the dead-letter queue");
    click(c, "#queue-table tr[data-queue=example-events-dlq]").await;
    wait_text(c, "#queue-detail .message.peeked pre", 5, |t| {
        t.contains("poison")
    })
    .await;
    click(c, "#queue-detail .redrive-btn[data-to=example-events]").await;
    wait_text(c, &format!("{q} td.available"), 5, |t| t == "1").await;
    assert_eq!(dev.depth("example-events-dlq"), (0, 0));
    assert_eq!(dev.depth("example-events"), (1, 0));
    assert_no_console_errors(driver, session, "the events and queues views");

    // Send: an event a rule routes, with its transformer, to a queue and an e-mail topic.
    click(c, "nav a[data-view=send]").await;
    let event = quilt_event();
    fill(c, "#send-source", event["source"].as_str().expect("source")).await;
    fill(
        c,
        "#send-detail-type",
        event["detail-type"].as_str().expect("type"),
    )
    .await;
    fill(c, "#send-detail", &event["detail"].to_string()).await;
    click(c, "#send-submit").await;
    wait_text(c, "#send-result .routed", 5, |t| {
        t.contains("default/quilt-package-revision") && t.contains("sns:package-alerts")
    })
    .await;
    assert_eq!(dev.depth("example-events"), (2, 0), "routed to the queue");
    // A pattern test, with AWS's wording for an invalid pattern.
    fill(c, "#pattern-text", r#"{"source": []}"#).await;
    click(c, "#pattern-submit").await;
    wait_text(c, "#pattern-result", 5, |t| {
        t.contains("Event pattern is not valid") && t.contains("Empty arrays are not allowed")
    })
    .await;
    fill(
        c,
        "#pattern-text",
        r#"{"detail": {"amount": [{"numeric": [">", 10]}]}}"#,
    )
    .await;
    click(c, "#pattern-submit").await;
    wait_text(c, "#pattern-result", 5, |t| t.starts_with("MATCH")).await;
    screenshot(c, "send").await;

    // The sent event opens with the transformer's output as the topic's body.
    click(c, "#send-result a.event-link").await;
    wait_text(c, "#detail-rules .rule", 5, |t| {
        t == "default/quilt-package-revision"
    })
    .await;
    wait_text(c, "#event-detail pre.delivery-body", 5, |t| {
        t == "\"Package analytics/daily-report has a new revision e99b760a05539460ac0a7349abb8f476e8c75282a38845fa828f8a5d28374303 in s3://quilt-example\""
    })
    .await;

    // Outbox: the e-mail the topic's subscription sent, rendered.
    click(c, "nav a[data-view=outbox]").await;
    wait_text(c, "#outbox-list .mail .headers", 5, |t| {
        t.contains("data-team@example.com")
    })
    .await;
    wait_text(c, "#outbox-list .mail-body", 5, |t| {
        t.contains("Package analytics/daily-report has a new revision")
    })
    .await;
    screenshot(c, "outbox").await;
    assert_no_console_errors(driver, session, "the send and outbox views");
}
