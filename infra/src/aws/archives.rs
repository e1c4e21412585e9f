//! EventBridge archives and replays through the SDK: reading the account's archives,
//! creating, updating and deleting the stack's own, and running a replay.
//!
//! Archives take no tags, so ownership is the marker `bridge` appends to an archive's
//! description ([`rules::archive::owner_marker`]); the planner reads it from
//! [`ArchiveFacts::description`].

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};

pub use super::archive_facts::{describe_archive, read_archives, ArchiveFacts};
use super::write::Writer;
use super::{AwsClients, AwsError};

fn retention(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

impl Writer<'_> {
    /// CreateArchive on the bus `bus_arn`; `description` already carries the marker.
    pub async fn create_archive(
        &self,
        archive: &rules::desired::Archive,
        bus_arn: &str,
        description: &str,
    ) -> Result<(), AwsError> {
        self.count_call();
        self.clients()
            .eventbridge
            .create_archive()
            .archive_name(&archive.name)
            .event_source_arn(bus_arn)
            .set_event_pattern(archive.pattern.clone())
            .retention_days(retention(archive.retention_days))
            .description(description)
            .send()
            .await
            .map_err(|e| AwsError::call("CreateArchive", format!("archive {}", archive.name), e))?;
        Ok(())
    }

    /// UpdateArchive: pattern, retention and description as declared. A declared "every
    /// event" (no pattern) is sent as an empty pattern.
    pub async fn update_archive(
        &self,
        archive: &rules::desired::Archive,
        description: &str,
    ) -> Result<(), AwsError> {
        self.count_call();
        self.clients()
            .eventbridge
            .update_archive()
            .archive_name(&archive.name)
            .event_pattern(archive.pattern.clone().unwrap_or_default())
            .retention_days(retention(archive.retention_days))
            .description(description)
            .send()
            .await
            .map_err(|e| AwsError::call("UpdateArchive", format!("archive {}", archive.name), e))?;
        Ok(())
    }

    pub async fn delete_archive(&self, name: &str) -> Result<(), AwsError> {
        self.count_call();
        self.clients()
            .eventbridge
            .delete_archive()
            .archive_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteArchive", format!("archive {name}"), e))?;
        Ok(())
    }
}

/// What to replay: the archive's events between `from` and `to` (epoch milliseconds), to
/// its bus, only to `rule_arns` when some are given.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    pub name: String,
    pub archive_arn: String,
    pub bus_arn: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub rule_arns: Vec<String>,
}

/// StartReplay; returns the replay's ARN.
pub async fn start_replay(aws: &AwsClients, r: &ReplayRequest) -> Result<String, AwsError> {
    let destination = ReplayDestination::builder()
        .arn(&r.bus_arn)
        .set_filter_arns((!r.rule_arns.is_empty()).then(|| r.rule_arns.clone()))
        .build()
        .map_err(|e| AwsError::Invalid {
            resource: format!("replay {}", r.name),
            message: e.to_string(),
        })?;
    let out = aws
        .eventbridge
        .start_replay()
        .replay_name(&r.name)
        .event_source_arn(&r.archive_arn)
        .event_start_time(DateTime::from_millis(r.from_ms))
        .event_end_time(DateTime::from_millis(r.to_ms))
        .destination(destination)
        .send()
        .await
        .map_err(|e| AwsError::call("StartReplay", format!("replay {}", r.name), e))?;
    Ok(out.replay_arn().unwrap_or_default().to_string())
}

/// Where a replay is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStatus {
    /// `STARTING`, `RUNNING`, `CANCELLING`, `COMPLETED`, `CANCELLED` or `FAILED`.
    pub state: String,
    pub reason: Option<String>,
    /// The time of the last event replayed so far (epoch milliseconds).
    pub last_replayed_ms: Option<i64>,
}

impl ReplayStatus {
    /// Whether the replay has ended (completed, cancelled or failed).
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "COMPLETED" | "CANCELLED" | "FAILED")
    }
}

pub async fn describe_replay(aws: &AwsClients, name: &str) -> Result<ReplayStatus, AwsError> {
    let out = aws
        .eventbridge
        .describe_replay()
        .replay_name(name)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeReplay", format!("replay {name}"), e))?;
    Ok(ReplayStatus {
        state: out
            .state()
            .map(ReplayState::as_str)
            .unwrap_or("UNKNOWN")
            .to_string(),
        reason: out.state_reason().map(str::to_string),
        last_replayed_ms: out
            .event_last_replayed_time()
            .and_then(|t| t.to_millis().ok()),
    })
}

pub async fn cancel_replay(aws: &AwsClients, name: &str) -> Result<(), AwsError> {
    aws.eventbridge
        .cancel_replay()
        .replay_name(name)
        .send()
        .await
        .map_err(|e| AwsError::call("CancelReplay", format!("replay {name}"), e))?;
    Ok(())
}
