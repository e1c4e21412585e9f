//! S3 bucket notification settings: turning EventBridge delivery on and off without
//! losing anything else.
//!
//! `PutBucketNotificationConfiguration` replaces the *whole* document. Writing only
//! `EventBridgeConfiguration` would silently delete every queue, topic and Lambda
//! notification someone else configured — so every change here is read-modify-write.

use aws_sdk_s3::types::{EventBridgeConfiguration, NotificationConfiguration};

use super::AwsError;

/// What a bucket's notification document holds, in the terms the plan needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketNotifications {
    pub eventbridge: bool,
    pub queue_configurations: usize,
    pub topic_configurations: usize,
    pub lambda_configurations: usize,
}

/// Reads a bucket's notification configuration.
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<BucketNotifications, AwsError> {
    let current = get(s3, bucket).await?;
    Ok(summarize(&current))
}

/// Sets EventBridge delivery on `bucket` to `enabled`, keeping every other configuration.
/// Returns whether a write call was made (none when the bucket is already as asked).
pub async fn set_eventbridge(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    enabled: bool,
) -> Result<bool, AwsError> {
    let current = get(s3, bucket).await?;
    if current.event_bridge_configuration.is_some() == enabled {
        return Ok(false);
    }
    let updated = NotificationConfiguration::builder()
        .set_queue_configurations(current.queue_configurations)
        .set_topic_configurations(current.topic_configurations)
        .set_lambda_function_configurations(current.lambda_function_configurations)
        .set_event_bridge_configuration(
            enabled.then(|| EventBridgeConfiguration::builder().build()),
        )
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(updated)
        .send()
        .await
        .map_err(|e| AwsError::call("PutBucketNotificationConfiguration", bucket, e))?;
    Ok(true)
}

#[derive(Default)]
struct Current {
    queue_configurations: Option<Vec<aws_sdk_s3::types::QueueConfiguration>>,
    topic_configurations: Option<Vec<aws_sdk_s3::types::TopicConfiguration>>,
    lambda_function_configurations: Option<Vec<aws_sdk_s3::types::LambdaFunctionConfiguration>>,
    event_bridge_configuration: Option<EventBridgeConfiguration>,
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Current, AwsError> {
    let out = match s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_empty_moto_document(&e) => return Ok(Current::default()),
        Err(e) => {
            return Err(AwsError::call(
                "GetBucketNotificationConfiguration",
                bucket,
                e,
            ))
        }
    };
    Ok(Current {
        queue_configurations: out.queue_configurations,
        topic_configurations: out.topic_configurations,
        lambda_function_configurations: out.lambda_function_configurations,
        event_bridge_configuration: out.event_bridge_configuration,
    })
}

fn summarize(current: &Current) -> BucketNotifications {
    BucketNotifications {
        eventbridge: current.event_bridge_configuration.is_some(),
        queue_configurations: current.queue_configurations.as_ref().map_or(0, Vec::len),
        topic_configurations: current.topic_configurations.as_ref().map_or(0, Vec::len),
        lambda_configurations: current
            .lambda_function_configurations
            .as_ref()
            .map_or(0, Vec::len),
    }
}

/// moto answers a bucket without notifications with an empty
/// `<GetBucketNotificationResponse/>` element instead of `<NotificationConfiguration/>`,
/// which the SDK refuses to parse. Only that exact, empty answer is read as "nothing
/// configured"; any other parse failure stays an error.
fn is_empty_moto_document<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    let Some(raw) = e.raw_response() else {
        return false;
    };
    if !raw.status().is_success() {
        return false;
    }
    let Some(body) = raw.body().bytes() else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let text = text.trim();
    let text = match text.strip_prefix("<?xml") {
        Some(rest) => match rest.split_once("?>") {
            Some((_, after)) => after.trim(),
            None => return false,
        },
        None => text,
    };
    text.starts_with("<GetBucketNotificationResponse")
        && text.ends_with("/>")
        && text.matches('<').count() == 1
}
