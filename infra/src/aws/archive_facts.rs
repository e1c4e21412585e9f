//! Reading the account's archives (kept apart from the archive writes, which `read` must
//! not depend on).

use super::{AwsClients, AwsError};

/// An archive as it exists (any bus, any owner: names are unique per account and region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub name: String,
    pub arn: String,
    /// The ARN of the bus it archives.
    pub event_source_arn: String,
    pub event_pattern: Option<String>,
    /// 0 (or absent) keeps events forever.
    pub retention_days: u32,
    /// As stored, ownership marker included.
    pub description: Option<String>,
}

/// Every archive of the account and region (ListArchives, then DescribeArchive each for
/// its pattern and description). An archive deleted meanwhile is skipped.
pub async fn read_archives(aws: &AwsClients) -> Result<Vec<ArchiveFacts>, AwsError> {
    let names = super::pages::all(|token| async move {
        let page = aws
            .eventbridge
            .list_archives()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call("ListArchives", "archives", e))?;
        let names = page
            .archives()
            .iter()
            .filter_map(|a| a.archive_name().map(str::to_string))
            .collect();
        Ok((names, page.next_token().map(str::to_string)))
    })
    .await?;
    let mut out = Vec::new();
    for name in names {
        if let Some(a) = describe_archive(aws, &name).await? {
            out.push(a);
        }
    }
    Ok(out)
}

/// One archive; `None` when it does not exist.
pub async fn describe_archive(
    aws: &AwsClients,
    name: &str,
) -> Result<Option<ArchiveFacts>, AwsError> {
    let out = match aws
        .eventbridge
        .describe_archive()
        .archive_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(AwsError::call(
                "DescribeArchive",
                format!("archive {name}"),
                e,
            ))
        }
    };
    Ok(Some(ArchiveFacts {
        name: name.to_string(),
        arn: out.archive_arn().unwrap_or_default().to_string(),
        event_source_arn: out.event_source_arn().unwrap_or_default().to_string(),
        event_pattern: out
            .event_pattern()
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        retention_days: out
            .retention_days()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(0),
        description: out.description().map(str::to_string),
    }))
}
