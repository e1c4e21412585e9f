//! [`MessageSource`] over the embedded local backend (`infra::local::Store`).
//!
//! The store is synchronous SQLite, so every call runs on tokio's blocking pool behind a
//! mutex. Long polling is done here, in short non-blocking receives separated by async
//! sleeps, so a waiting receive never holds the mutex that deletes and heartbeats need.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infra::local::{LocalError, MessageAttribute, ReceiveRequest, SendRequest, Store};

use super::source::{dead_letter_attributes, Message, MessageSource, SourceError};

/// How often an empty queue is polled during a long poll.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A queue in a local state directory.
#[derive(Debug, Clone)]
pub struct LocalSource {
    store: Arc<Mutex<Store>>,
    queue: String,
}

impl LocalSource {
    /// Reads `queue` (a name or ARN) from `store`. Fails if the queue does not exist.
    pub fn new(store: Store, queue: &str) -> Result<LocalSource, SourceError> {
        LocalSource::shared(Arc::new(Mutex::new(store)), queue)
    }

    /// Like [`LocalSource::new`], sharing a store the caller also uses (tests send with it).
    pub fn shared(store: Arc<Mutex<Store>>, queue: &str) -> Result<LocalSource, SourceError> {
        let name = infra_name(queue).to_string();
        let exists = {
            let mut guard = lock(&store);
            guard
                .list_queues()
                .map_err(|e| call("ListQueues", &name, e))?
                .iter()
                .any(|q| q.name == name)
        };
        if !exists {
            return Err(call("open", &name, LocalError::NoSuchQueue(name.clone())));
        }
        Ok(LocalSource { store, queue: name })
    }

    async fn with_store<T, F>(&self, f: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store, &str) -> Result<T, SourceError> + Send + 'static,
    {
        let store = self.store.clone();
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&store), &queue))
            .await
            .map_err(|e| SourceError::Call {
                operation: "local store call",
                queue: self.queue.clone(),
                message: e.to_string(),
            })?
    }
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    // A panic while holding the lock leaves SQLite consistent (every change is one
    // transaction), so a poisoned mutex is safe to keep using.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

fn infra_name(queue: &str) -> &str {
    if queue.starts_with("arn:") {
        queue.rsplit(':').next().unwrap_or(queue)
    } else {
        queue
    }
}

fn call(operation: &'static str, queue: &str, e: LocalError) -> SourceError {
    SourceError::Call {
        operation,
        queue: queue.to_string(),
        message: e.to_string(),
    }
}

impl MessageSource for LocalSource {
    async fn receive(
        &self,
        max: u32,
        wait_secs: u32,
        visibility_secs: Option<u32>,
    ) -> Result<Vec<Message>, SourceError> {
        let deadline = Instant::now() + Duration::from_secs(wait_secs.min(20).into());
        loop {
            let got = self
                .with_store(move |store, queue| {
                    let req = ReceiveRequest {
                        max_messages: max.clamp(1, 10),
                        visibility_timeout_secs: visibility_secs,
                        wait_time_secs: 0,
                    };
                    store
                        .receive_messages(queue, req)
                        .map_err(|e| call("ReceiveMessage", queue, e))
                })
                .await?;
            if !got.is_empty() || Instant::now() >= deadline {
                return Ok(got
                    .into_iter()
                    .map(|m| Message {
                        receive_count: m.receive_count(),
                        group_id: m.attributes.get("MessageGroupId").cloned(),
                        attributes: m
                            .message_attributes
                            .iter()
                            .map(|(name, a)| {
                                let attribute = super::MessageAttribute {
                                    data_type: a.data_type.clone(),
                                    string_value: Some(a.string_value.clone()),
                                    binary_value: None,
                                };
                                (name.clone(), attribute)
                            })
                            .collect(),
                        id: m.message_id,
                        receipt: m.receipt_handle,
                        body: m.body,
                    })
                    .collect());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), SourceError>>, SourceError> {
        let receipts = receipts.to_vec();
        self.with_store(move |store, queue| {
            let results = store
                .delete_messages(queue, &receipts)
                .map_err(|e| call("DeleteMessageBatch", queue, e))?;
            Ok(results
                .into_iter()
                .map(|r| r.map_err(|e| call("DeleteMessageBatch", queue, e)))
                .collect())
        })
        .await
    }

    async fn change_visibility(&self, receipt: &str, secs: u32) -> Result<(), SourceError> {
        let receipt = receipt.to_string();
        self.with_store(move |store, queue| {
            store
                .change_visibility(queue, &receipt, secs)
                .map_err(|e| call("ChangeMessageVisibility", queue, e))
        })
        .await
    }

    async fn dead_letter(&self, message: &Message, why: &str) -> Result<(), SourceError> {
        let message = message.clone();
        let why = why.to_string();
        self.with_store(move |store, queue| {
            let spec = store
                .list_queues()
                .map_err(|e| call("GetQueueAttributes", queue, e))?
                .into_iter()
                .find(|q| q.name == queue);
            let Some(redrive) = spec.and_then(|s| s.redrive) else {
                return Err(SourceError::NoDeadLetterQueue {
                    queue: queue.to_string(),
                    why,
                });
            };
            let dlq = infra_name(&redrive.dead_letter_target_arn).to_string();
            let mut req = SendRequest::body(message.body.clone());
            let (attributes, with_reason) = dead_letter_attributes(&message, &why);
            if !with_reason {
                eprintln!(
                    "bridge consume: message {} has {} attributes, the most SQS allows: it is dead-lettered without the {} attribute",
                    message.id,
                    attributes.len(),
                    super::DEAD_LETTER_REASON_ATTRIBUTE
                );
            }
            // The local store keeps string values only (nothing it hands out is binary).
            req.attributes = attributes
                .into_iter()
                .filter_map(|(name, a)| {
                    let value = a.string_value?;
                    Some((
                        name,
                        MessageAttribute {
                            data_type: a.data_type,
                            string_value: value,
                        },
                    ))
                })
                .collect();
            if dlq.ends_with(".fifo") {
                req.group_id = Some("bridge-dead-letter".into());
                req.dedup_id = Some(message.id.clone());
            }
            store
                .send_message(&dlq, &req)
                .map_err(|e| call("SendMessage (dead-letter)", &dlq, e))?;
            store
                .delete_message(queue, &message.receipt)
                .map_err(|e| call("DeleteMessage", queue, e))
        })
        .await
    }

    fn is_fifo(&self) -> bool {
        self.queue.ends_with(".fifo")
    }

    fn describe(&self) -> String {
        format!("local queue {}", self.queue)
    }
}
