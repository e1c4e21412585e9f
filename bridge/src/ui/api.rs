//! The console's JSON endpoints. Each runs its `Store` work on a blocking thread; reads go
//! through `infra::local`'s read functions, writes through the operations the CLI uses
//! (`put_events` as `put-event --local`, `receive_messages`/`delete_message` as `consume`,
//! the pattern engine as `test-pattern`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use infra::local::{Activity, LocalError, PutEventsEntry, ReceiveRequest, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;

/// An error answer: a status and a message, as `{"error": "..."}`.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<LocalError> for ApiError {
    fn from(e: LocalError) -> Self {
        let status = match &e {
            LocalError::NoSuchQueue(_) => StatusCode::NOT_FOUND,
            LocalError::InvalidReceipt(_)
            | LocalError::NotInFlight(_)
            | LocalError::NoRedriveDestination { .. }
            | LocalError::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// Runs `f` on the console's store, off the async threads.
async fn with_store<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let mut store = state.store.lock().map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "an earlier request failed while holding the state; restart bridge dev".into(),
            )
        })?;
        f(&mut store)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn activity_json(a: &Activity) -> Value {
    json!({
        "id": a.id,
        "at_ms": a.at_ms,
        "message_id": a.message_id,
        "origin": a.origin,
        "target": a.target,
        "outcome": a.outcome,
    })
}

/// The JSON value of `text` if it is JSON, else the text as a string.
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Stack, buckets, queues with their depth, topics with subscriptions, rules.
pub(crate) async fn overview(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let stack = state.stack.clone();
    let project = state.project.display().to_string();
    with_store(&state, move |store| {
        let mut queues = Vec::new();
        for q in store.list_queues()? {
            let c = store.queue_counts(&q.name)?;
            queues.push(json!({
                "name": q.name,
                "arn": store.queue_arn(&q.name),
                "fifo": q.fifo,
                "available": c.visible,
                "in_flight": c.in_flight,
                "delayed": c.delayed,
                "dead_letter_queue": q.redrive.as_ref().map(|r| {
                    r.dead_letter_target_arn.rsplit(':').next().unwrap_or_default().to_string()
                }),
                "max_receive_count": q.redrive.as_ref().map(|r| r.max_receive_count),
            }));
        }
        let subscriptions = store.list_subscriptions(None)?;
        let topics: Vec<Value> = store
            .list_topics()?
            .into_iter()
            .map(|t| {
                let arn = store.topic_arn(&t.name);
                let subs: Vec<Value> = subscriptions
                    .iter()
                    .filter(|s| s.spec.topic == t.name || s.spec.topic == arn)
                    .map(|s| json!({"protocol": s.spec.protocol, "endpoint": s.spec.endpoint}))
                    .collect();
                json!({"name": t.name, "arn": arn, "subscriptions": subs})
            })
            .collect();
        let rules: Vec<Value> = store
            .list_rules(None)?
            .into_iter()
            .map(|r| {
                json!({
                    "bus": r.bus,
                    "name": r.name,
                    "pattern": r.pattern,
                    "schedule": r.schedule,
                    "state": r.state.as_str(),
                    "description": r.description,
                })
            })
            .collect();
        let buckets: Vec<Value> = store
            .list_buckets()?
            .into_iter()
            .map(|b| json!({"name": b.name, "dir": b.dir.display().to_string(), "eventbridge": b.eventbridge}))
            .collect();
        Ok(Json(json!({
            "stack": stack,
            "project": project,
            "state_dir": store.dir().display().to_string(),
            "outbox_dir": store.outbox_dir().display().to_string(),
            "region": store.config().region,
            "buckets": buckets,
            "queues": queues,
            "topics": topics,
            "rules": rules,
            "last_activity_id": store.last_activity_id()?,
        })))
    })
    .await
}

/// The wiring, as `bridge graph --format svg` draws it.
pub(crate) async fn graph(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        state.graph_svg.clone(),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct ActivityQuery {
    /// The newest `limit` rows (default 200, at most 1000).
    limit: Option<usize>,
}

/// The newest activity, oldest first.
pub(crate) async fn activity(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ActivityQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    with_store(&state, move |store| {
        let last = store.last_activity_id()?;
        let rows = store.activity_since((last - limit as i64).max(0), limit)?;
        Ok(Json(json!({
            "last_id": last,
            "rows": rows.iter().map(activity_json).collect::<Vec<_>>(),
        })))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    after: Option<i64>,
}

/// Server-sent events: every activity row after `?after=` (or `Last-Event-ID`, or from now),
/// as `event: activity`, polled from the log every 150 ms.
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let start = match resume.or(q.after) {
        Some(id) => id,
        None => with_store(&state, |store| Ok(store.last_activity_id()?)).await?,
    };
    let events = stream::unfold(
        (state, start, Vec::<Activity>::new()),
        |(state, mut after, mut pending)| async move {
            loop {
                if !pending.is_empty() {
                    let a = pending.remove(0);
                    let event = Event::default()
                        .event("activity")
                        .id(a.id.to_string())
                        .data(activity_json(&a).to_string());
                    return Some((Ok(event), (state, after, pending)));
                }
                let from = after;
                let rows =
                    with_store(&state, move |store| Ok(store.activity_since(from, 200)?)).await;
                match rows {
                    Ok(rows) if !rows.is_empty() => {
                        after = rows.last().map(|a| a.id).unwrap_or(after);
                        pending = rows;
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(150)).await,
                    Err(ApiError(_, message)) => {
                        let event = Event::default().event("failure").data(message);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return Some((Ok(event), (state, after, pending)));
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// One event (or message) id: its envelope, the rules that matched, every delivery with
/// the exact body the target got.
pub(crate) async fn event(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = with_store(&state, move |store| Ok(store.event_record(&id)?)).await?;
    let Some(record) = record else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no such event in the local state (never seen, or pruned)".into(),
        ));
    };
    let mut matched: Vec<String> = record
        .deliveries
        .iter()
        .filter_map(|d| d.activity.origin.strip_prefix("rule ").map(str::to_string))
        .collect();
    matched.dedup();
    let deliveries: Vec<Value> = record
        .deliveries
        .iter()
        .map(|d| {
            let mut v = activity_json(&d.activity);
            v["body"] = d.body.clone().map(Value::String).unwrap_or(Value::Null);
            v
        })
        .collect();
    Ok(Json(json!({
        "id": record.id,
        "bus": record.bus,
        "envelope": record.envelope.as_deref().map(json_or_text),
        "matched_rules": matched,
        "deliveries": deliveries,
    })))
}

#[derive(Deserialize)]
pub(crate) struct PeekQuery {
    limit: Option<usize>,
}

/// A queue's messages without receiving them.
pub(crate) async fn peek(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<PeekQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    with_store(&state, move |store| {
        let peek = store.peek_messages(&name, limit)?;
        let sources = store.dead_letter_sources(&name)?;
        Ok(Json(json!({
            "queue": peek.queue,
            "counts": peek.counts,
            "messages": peek.messages,
            "dead_letter_sources": sources,
        })))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct RedriveBody {
    /// The destination; default: the one queue whose redrive policy names this one.
    to: Option<String>,
}

/// Moves a dead-letter queue's visible messages back, as `bridge dlq redrive --local`.
pub(crate) async fn redrive(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Json(body): Json<RedriveBody>,
) -> Result<Json<Value>, ApiError> {
    with_store(&state, move |store| {
        let report = store.redrive(&name, body.to.as_deref(), None, &mut |_| {})?;
        Ok(Json(json!(report)))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct ReceiveBody {
    max_messages: Option<u32>,
    visibility_timeout: Option<u32>,
}

/// ReceiveMessage, as a consumer would (the messages go in flight).
pub(crate) async fn receive(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Json(body): Json<ReceiveBody>,
) -> Result<Json<Value>, ApiError> {
    let req = ReceiveRequest {
        max_messages: body.max_messages.unwrap_or(1),
        visibility_timeout_secs: body.visibility_timeout,
        wait_time_secs: 0,
    };
    with_store(&state, move |store| {
        let got = store.receive_messages(&name, req)?;
        let messages: Vec<Value> = got
            .iter()
            .map(|m| {
                json!({
                    "message_id": m.message_id,
                    "receipt_handle": m.receipt_handle,
                    "body": m.body,
                    "attributes": m.attributes,
                    "message_attributes": m.message_attributes,
                })
            })
            .collect();
        Ok(Json(json!({ "messages": messages })))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct DeleteBody {
    receipt_handle: String,
}

/// DeleteMessage with a receipt handle from a receive.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Json(body): Json<DeleteBody>,
) -> Result<Json<Value>, ApiError> {
    with_store(&state, move |store| {
        store.delete_message(&name, &body.receipt_handle)?;
        Ok(Json(json!({ "deleted": true })))
    })
    .await
}

/// The e-mails e-mail subscriptions wrote, newest first.
pub(crate) async fn outbox(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    with_store(&state, |store| {
        Ok(Json(json!({
            "dir": store.outbox_dir().display().to_string(),
            "mails": store.outbox_mails(200)?,
        })))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct PutEventBody {
    source: Option<String>,
    detail_type: Option<String>,
    /// The detail as JSON text (validated as PutEvents does).
    detail: Option<String>,
    bus: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
}

/// PutEvents with one entry, as `bridge put-event --local`: AWS's per-entry result (an
/// event id, or its error code and message) and where the event was routed.
pub(crate) async fn put_event(
    State(state): State<Arc<AppState>>,
    Json(body): Json<PutEventBody>,
) -> Result<Json<Value>, ApiError> {
    let entry = PutEventsEntry {
        source: body.source,
        detail_type: body.detail_type,
        detail: body.detail,
        resources: body.resources,
        time: None,
        event_bus_name: Some(body.bus.unwrap_or_else(|| "default".into())),
    };
    with_store(&state, move |store| {
        let out = store.put_events(std::slice::from_ref(&entry))?;
        let routed: Vec<Value> = out
            .routed
            .iter()
            .map(|r| json!({"rule": r.rule, "target": r.target, "outcome": r.outcome}))
            .collect();
        Ok(Json(json!({
            "FailedEntryCount": out.failed_entry_count,
            "Entries": out.entries,
            "routed": routed,
        })))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct TestPatternBody {
    pattern: String,
    event: String,
}

/// TestEventPattern, with `test-pattern --explain`'s reason. An invalid pattern or event is
/// the test's answer (`error`, in AWS's words), not a failed request.
pub(crate) async fn test_pattern(Json(body): Json<TestPatternBody>) -> Json<Value> {
    let pattern = match patterns::Pattern::parse(&body.pattern) {
        Ok(p) => p,
        Err(e) => {
            return Json(json!({
                "error": format!("InvalidEventPatternException: Event pattern is not valid. Reason: {e}")
            }))
        }
    };
    match pattern.explain(&body.event) {
        Ok(why) => Json(json!({
            "result": why.matched(),
            "explanation": why.to_string(),
        })),
        Err(e) => Json(json!({
            "error": format!("The event is not valid: {e}")
        })),
    }
}
