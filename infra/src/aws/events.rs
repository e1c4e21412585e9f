//! PutEvents against a real bus, with the retries AWS asks callers to make.
//!
//! PutEvents is not all-or-nothing: a call can succeed while some of its entries fail,
//! each with its own `ErrorCode`. Entries that failed for a passing reason (throttling,
//! an internal failure) are sent again, alone, with exponential backoff; entries AWS
//! rejected for what they say (a malformed detail, an unknown bus) are reported at once,
//! since sending them again cannot help. Throttling of the whole request is retried by the
//! SDK's own retry policy before it reaches us.

use std::time::Duration;

use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{AwsClients, AwsError};
use crate::put_events::{PutEventsEntry, PutEventsResultEntry};

/// At most this many entries per PutEvents call (AWS's limit).
pub const MAX_ENTRIES: usize = 10;

/// How many times one entry is sent before its last error is reported.
const ATTEMPTS: u32 = 5;

/// Error codes worth another try: the entry was fine, the service was busy.
fn retryable(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "InternalFailure" | "InternalException" | "ServiceUnavailable"
    )
}

/// Sends up to [`MAX_ENTRIES`] entries; returns one result per entry, in order.
///
/// An `Err` means the call itself failed (credentials, network, a bus that does not
/// exist), after the SDK's retries: no entry can be assumed accepted.
pub async fn put_events(
    aws: &AwsClients,
    entries: &[PutEventsEntry],
) -> Result<Vec<PutEventsResultEntry>, AwsError> {
    if entries.len() > MAX_ENTRIES {
        return Err(AwsError::Invalid {
            resource: "PutEvents".into(),
            message: format!(
                "{} entries in one call; at most {MAX_ENTRIES} are allowed",
                entries.len()
            ),
        });
    }
    let mut results: Vec<Option<PutEventsResultEntry>> = vec![None; entries.len()];
    let mut pending: Vec<usize> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match request_entry(entry) {
            Ok(_) => pending.push(i),
            Err(message) => {
                results[i] = Some(PutEventsResultEntry {
                    event_id: None,
                    error_code: Some("InvalidArgument".into()),
                    error_message: Some(message),
                })
            }
        }
    }
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        let mut call = aws.eventbridge.put_events();
        for &i in &pending {
            // Checked above; building it again keeps the SDK type out of our state.
            if let Ok(e) = request_entry(&entries[i]) {
                call = call.entries(e);
            }
        }
        let out = call
            .send()
            .await
            .map_err(|e| AwsError::call("PutEvents", bus_of(&entries[pending[0]]), e))?;
        let mut again = Vec::new();
        for (&i, result) in pending.iter().zip(out.entries()) {
            let code = result.error_code().map(str::to_string);
            if code.as_deref().is_some_and(retryable) && attempt < ATTEMPTS {
                again.push(i);
                continue;
            }
            results[i] = Some(PutEventsResultEntry {
                event_id: result.event_id().map(str::to_string),
                error_code: code,
                error_message: result.error_message().map(str::to_string),
            });
        }
        // An answer with fewer results than entries would be a service bug; never claim
        // an entry was accepted without its id.
        for &i in pending.iter().skip(out.entries().len()) {
            results[i] = Some(PutEventsResultEntry {
                event_id: None,
                error_code: Some("MissingResult".into()),
                error_message: Some("PutEvents returned no result for this entry".into()),
            });
        }
        if !again.is_empty() {
            tokio::time::sleep(backoff(attempt)).await;
        }
        pending = again;
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or(PutEventsResultEntry {
                event_id: None,
                error_code: Some("MissingResult".into()),
                error_message: Some("not sent".into()),
            })
        })
        .collect())
}

/// 100 ms, 200 ms, 400 ms, ... : AWS's advice for throttled PutEvents entries.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.saturating_sub(1).min(6))
}

fn bus_of(entry: &PutEventsEntry) -> String {
    format!(
        "event bus {}",
        entry.event_bus_name.as_deref().unwrap_or("default")
    )
}

/// The SDK entry; `Err` names what is wrong with the entry before anything is sent.
fn request_entry(entry: &PutEventsEntry) -> Result<PutEventsRequestEntry, String> {
    let mut e = PutEventsRequestEntry::builder()
        .set_source(entry.source.clone())
        .set_detail_type(entry.detail_type.clone())
        .set_detail(entry.detail.clone())
        .set_event_bus_name(entry.event_bus_name.clone())
        .set_resources((!entry.resources.is_empty()).then(|| entry.resources.clone()));
    if let Some(time) = &entry.time {
        let parsed = DateTime::from_str(time, DateTimeFormat::DateTimeWithOffset)
            .map_err(|_| format!("time `{time}` is not an RFC 3339 timestamp"))?;
        e = e.time(parsed);
    }
    Ok(e.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_millis(6_400));
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(retryable("ThrottlingException"));
        assert!(retryable("InternalFailure"));
        assert!(!retryable("InvalidArgument"));
        assert!(!retryable("MalformedDetail"));
    }

    #[test]
    fn a_bad_time_is_named() {
        let mut entry = PutEventsEntry::new("s", "t", "{}");
        entry.time = Some("yesterday".into());
        let err = request_entry(&entry).expect_err("bad time");
        assert!(err.contains("yesterday"), "{err}");
        entry.time = Some("2026-12-02T10:00:00Z".into());
        let ok = request_entry(&entry).expect("good time");
        assert_eq!(ok.time().map(|t| t.secs()), Some(1_796_205_600));
    }
}
