//! S3 bucket notification settings: EventBridge delivery and the stack's own native
//! notifications, changed without losing anything else.
//!
//! `PutBucketNotificationConfiguration` replaces the *whole* document. Writing only what
//! `bridge` wants would silently delete every queue, topic and Lambda notification someone
//! else configured — so every change here is read-modify-write.
//!
//! A bucket has no tags that could prove which configuration is whose, so ownership lives
//! in the configuration `Id`: `bridge:<stack>:<id>`. Stack names never contain `:`, so the
//! prefix of one stack is never the prefix of another. Configurations without the stack's
//! prefix are never changed or removed.

use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    TopicConfiguration,
};

use super::AwsError;

/// What kind of destination a configuration delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotificationKind {
    Queue,
    Topic,
    Lambda,
}

/// One native notification configuration, as S3 holds it (or as `bridge` wants it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationFacts {
    /// The full S3 `Id` (S3 assigns one when the writer gave none).
    pub id: Option<String>,
    pub kind: NotificationKind,
    pub arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

impl NotificationFacts {
    /// Whether two configurations deliver the same events to the same place: events as
    /// a set, filter rule names case-insensitively (AWS answers `Prefix` for `prefix`),
    /// and an empty prefix or suffix the same as none.
    pub fn same_as(&self, other: &NotificationFacts) -> bool {
        let set = |e: &[String]| e.iter().cloned().collect::<std::collections::BTreeSet<_>>();
        let rule = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        self.kind == other.kind
            && self.arn == other.arn
            && set(&self.events) == set(&other.events)
            && rule(&self.prefix) == rule(&other.prefix)
            && rule(&self.suffix) == rule(&other.suffix)
    }
}

/// What a bucket's notification document holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketNotifications {
    pub eventbridge: bool,
    pub configurations: Vec<NotificationFacts>,
}

impl BucketNotifications {
    pub fn count(&self, kind: NotificationKind) -> usize {
        self.configurations
            .iter()
            .filter(|c| c.kind == kind)
            .count()
    }

    /// The stack's configurations, by declared id.
    pub fn owned<'a>(
        &'a self,
        stack: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a NotificationFacts)> + 'a {
        self.configurations.iter().filter_map(move |c| {
            let id = owned_id(c.id.as_deref()?, stack)?;
            Some((id, c))
        })
    }
}

/// The S3 `Id` of a stack's notification: `bridge:<stack>:<id>`.
pub fn notification_id(stack: &str, id: &str) -> String {
    format!("bridge:{stack}:{id}")
}

/// The declared id inside a full S3 `Id`, when the configuration is the stack's.
pub fn owned_id<'a>(full: &'a str, stack: &str) -> Option<&'a str> {
    full.strip_prefix("bridge:")?
        .strip_prefix(stack)?
        .strip_prefix(':')
}

/// A change to one bucket's document: the stack's configurations to create or replace
/// (full ids), the stack's full ids to remove, and whether to turn EventBridge on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketUpdate {
    pub enable_eventbridge: bool,
    pub put: Vec<NotificationFacts>,
    pub remove: Vec<String>,
}

/// Reads a bucket's notification configuration.
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<BucketNotifications, AwsError> {
    match get(s3, bucket).await {
        Ok(current) => Ok(summarize(&current)),
        Err(AwsError::Gone { resource }) => Err(AwsError::Invalid {
            resource,
            message: "does not exist (bridge never creates buckets: create it, or remove it \
                      from the project)"
                .into(),
        }),
        Err(e) => Err(e),
    }
}

/// Like [`read`], but `None` when the bucket does not exist.
pub async fn read_if_exists(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<BucketNotifications>, AwsError> {
    match get(s3, bucket).await {
        Ok(current) => Ok(Some(summarize(&current))),
        Err(AwsError::Gone { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets EventBridge delivery on `bucket` to `enabled`, keeping every other configuration.
/// Returns whether a write call was made (none when the bucket is already as asked).
pub async fn set_eventbridge(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    enabled: bool,
) -> Result<bool, AwsError> {
    let mut current = get(s3, bucket).await?;
    if current.event_bridge_configuration.is_some() == enabled {
        return Ok(false);
    }
    current.event_bridge_configuration =
        enabled.then(|| EventBridgeConfiguration::builder().build());
    put(s3, bucket, current.into_document()).await?;
    Ok(true)
}

/// Applies `update` to the bucket's current document (re-read right before writing, so a
/// configuration someone added since the plan was read is kept). Returns whether a write
/// call was made: none when the document already is as asked.
pub async fn update(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    update: &BucketUpdate,
) -> Result<bool, AwsError> {
    let current = get(s3, bucket).await?;
    let Some(document) = merge(current, update).map_err(|message| AwsError::Invalid {
        resource: format!("bucket {bucket}"),
        message,
    })?
    else {
        return Ok(false);
    };
    put(s3, bucket, document).await?;
    Ok(true)
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    document: NotificationConfiguration,
) -> Result<(), AwsError> {
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(document)
        .send()
        .await
        .map_err(|e| AwsError::call("PutBucketNotificationConfiguration", bucket, e))?;
    Ok(())
}

/// A bucket's notification document in SDK types, every part kept as read.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub queue_configurations: Option<Vec<QueueConfiguration>>,
    pub topic_configurations: Option<Vec<TopicConfiguration>>,
    pub lambda_function_configurations: Option<Vec<LambdaFunctionConfiguration>>,
    pub event_bridge_configuration: Option<EventBridgeConfiguration>,
}

impl Current {
    fn into_document(self) -> NotificationConfiguration {
        NotificationConfiguration::builder()
            .set_queue_configurations(self.queue_configurations)
            .set_topic_configurations(self.topic_configurations)
            .set_lambda_function_configurations(self.lambda_function_configurations)
            .set_event_bridge_configuration(self.event_bridge_configuration)
            .build()
    }
}

/// The document after `update`, or `None` when nothing would change. Lambda
/// configurations, the EventBridge flag and every configuration whose id is not being put
/// or removed are kept exactly as read (same SDK values, not re-built).
pub fn merge(
    current: Current,
    update: &BucketUpdate,
) -> Result<Option<NotificationConfiguration>, String> {
    let before = summarize(&current);
    let replaced = |id: Option<&str>| {
        id.is_some_and(|id| {
            update.remove.iter().any(|r| r == id)
                || update.put.iter().any(|p| p.id.as_deref() == Some(id))
        })
    };
    let mut queues: Vec<QueueConfiguration> = current
        .queue_configurations
        .unwrap_or_default()
        .into_iter()
        .filter(|q| !replaced(q.id()))
        .collect();
    let mut topics: Vec<TopicConfiguration> = current
        .topic_configurations
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !replaced(t.id()))
        .collect();
    for p in &update.put {
        let events: Vec<Event> = p.events.iter().map(|e| Event::from(e.as_str())).collect();
        let filter = key_filter(p)?;
        match p.kind {
            NotificationKind::Queue => queues.push(
                QueueConfiguration::builder()
                    .set_id(p.id.clone())
                    .queue_arn(&p.arn)
                    .set_events(Some(events))
                    .set_filter(filter)
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationKind::Topic => topics.push(
                TopicConfiguration::builder()
                    .set_id(p.id.clone())
                    .topic_arn(&p.arn)
                    .set_events(Some(events))
                    .set_filter(filter)
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            NotificationKind::Lambda => {
                return Err("bridge does not write Lambda notification configurations".into())
            }
        }
    }
    let event_bridge = current.event_bridge_configuration.or_else(|| {
        update
            .enable_eventbridge
            .then(|| EventBridgeConfiguration::builder().build())
    });
    let after = Current {
        queue_configurations: (!queues.is_empty()).then_some(queues),
        topic_configurations: (!topics.is_empty()).then_some(topics),
        lambda_function_configurations: current.lambda_function_configurations,
        event_bridge_configuration: event_bridge,
    };
    if same_document(&before, &summarize(&after)) {
        return Ok(None);
    }
    Ok(Some(after.into_document()))
}

fn key_filter(p: &NotificationFacts) -> Result<Option<NotificationConfigurationFilter>, String> {
    let mut rules = Vec::new();
    for (name, value) in [
        (FilterRuleName::Prefix, &p.prefix),
        (FilterRuleName::Suffix, &p.suffix),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            rules.push(FilterRule::builder().name(name).value(v).build());
        }
    }
    if rules.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build(),
    ))
}

/// Documents compare as sets of configurations, each compared semantically.
fn same_document(a: &BucketNotifications, b: &BucketNotifications) -> bool {
    a.eventbridge == b.eventbridge
        && a.configurations.len() == b.configurations.len()
        && a.configurations.iter().all(|x| {
            b.configurations
                .iter()
                .any(|y| x.id == y.id && x.same_as(y))
        })
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
        Err(e) if is_no_such_bucket(&e) => {
            return Err(AwsError::Gone {
                resource: format!("bucket {bucket}"),
            })
        }
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

/// The read model of a document (what the planner compares).
pub fn summarize(current: &Current) -> BucketNotifications {
    let mut configurations = Vec::new();
    for q in current.queue_configurations.iter().flatten() {
        configurations.push(facts(
            q.id(),
            NotificationKind::Queue,
            q.queue_arn(),
            q.events(),
            q.filter(),
        ));
    }
    for t in current.topic_configurations.iter().flatten() {
        configurations.push(facts(
            t.id(),
            NotificationKind::Topic,
            t.topic_arn(),
            t.events(),
            t.filter(),
        ));
    }
    for l in current.lambda_function_configurations.iter().flatten() {
        configurations.push(facts(
            l.id(),
            NotificationKind::Lambda,
            l.lambda_function_arn(),
            l.events(),
            l.filter(),
        ));
    }
    BucketNotifications {
        eventbridge: current.event_bridge_configuration.is_some(),
        configurations,
    }
}

fn facts(
    id: Option<&str>,
    kind: NotificationKind,
    arn: &str,
    events: &[Event],
    filter: Option<&NotificationConfigurationFilter>,
) -> NotificationFacts {
    let rules = filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    let rule = |wanted: &str| {
        rules
            .iter()
            .find(|r| {
                r.name()
                    .is_some_and(|n| n.as_str().eq_ignore_ascii_case(wanted))
            })
            .and_then(|r| r.value())
            .map(str::to_string)
    };
    NotificationFacts {
        id: id.map(str::to_string),
        kind,
        arn: arn.to_string(),
        events: events.iter().map(|e| e.as_str().to_string()).collect(),
        prefix: rule("prefix"),
        suffix: rule("suffix"),
    }
}

fn is_no_such_bucket<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    match e {
        aws_sdk_s3::error::SdkError::ServiceError(s) => s.err().code() == Some("NoSuchBucket"),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:111122223333:uploads";

    fn ours(id: &str, prefix: Option<&str>) -> NotificationFacts {
        NotificationFacts {
            id: Some(notification_id("shop", id)),
            kind: NotificationKind::Queue,
            arn: QUEUE.into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: prefix.map(str::to_string),
            suffix: None,
        }
    }

    fn foreign() -> Current {
        let queue = QueueConfiguration::builder()
            .id("theirs")
            .queue_arn("arn:aws:sqs:us-east-1:111122223333:theirs")
            .events(Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap();
        let lambda = LambdaFunctionConfiguration::builder()
            .id("thumbnails")
            .lambda_function_arn("arn:aws:lambda:us-east-1:111122223333:function:thumbs")
            .events(Event::from("s3:ObjectCreated:Put"))
            .build()
            .unwrap();
        Current {
            queue_configurations: Some(vec![queue]),
            lambda_function_configurations: Some(vec![lambda]),
            event_bridge_configuration: Some(EventBridgeConfiguration::builder().build()),
            ..Current::default()
        }
    }

    #[test]
    fn ids_carry_the_stack_and_never_match_another_stacks() {
        let id = notification_id("shop", "uploads");
        assert_eq!(id, "bridge:shop:uploads");
        assert_eq!(owned_id(&id, "shop"), Some("uploads"));
        assert_eq!(owned_id(&id, "sho"), None);
        assert_eq!(owned_id("bridge:shop-eu:uploads", "shop"), None);
        assert_eq!(owned_id("uploads", "shop"), None);
        // A declared id may itself contain the separator.
        assert_eq!(
            owned_id(&notification_id("shop", "a:b"), "shop"),
            Some("a:b")
        );
    }

    #[test]
    fn merging_keeps_foreign_configurations_lambda_and_the_eventbridge_flag() {
        let update = BucketUpdate {
            put: vec![ours("uploads", Some("in/"))],
            ..BucketUpdate::default()
        };
        let doc = merge(foreign(), &update).unwrap().expect("a write");
        assert!(doc.event_bridge_configuration().is_some());
        assert_eq!(doc.lambda_function_configurations().len(), 1);
        let ids: Vec<_> = doc.queue_configurations().iter().map(|q| q.id()).collect();
        assert_eq!(ids, vec![Some("theirs"), Some("bridge:shop:uploads")]);
        let rules = doc.queue_configurations()[1]
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules().to_vec())
            .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].name(), Some(&FilterRuleName::Prefix));
        assert_eq!(rules[0].value(), Some("in/"));
    }

    #[test]
    fn an_up_to_date_document_is_not_rewritten() {
        let mut current = foreign();
        let applied = merge(
            current.clone(),
            &BucketUpdate {
                put: vec![ours("uploads", Some("in/"))],
                ..BucketUpdate::default()
            },
        )
        .unwrap()
        .unwrap();
        current.queue_configurations = Some(applied.queue_configurations().to_vec());
        let again = BucketUpdate {
            put: vec![ours("uploads", Some("in/"))],
            enable_eventbridge: true,
            remove: vec![notification_id("shop", "never-existed")],
        };
        assert!(merge(current, &again).unwrap().is_none());
    }

    #[test]
    fn removing_touches_only_the_named_ids() {
        let mut current = foreign();
        current.queue_configurations.as_mut().unwrap().push(
            QueueConfiguration::builder()
                .id(notification_id("shop", "old"))
                .queue_arn(QUEUE)
                .events(Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap(),
        );
        let doc = merge(
            current,
            &BucketUpdate {
                remove: vec![notification_id("shop", "old")],
                ..BucketUpdate::default()
            },
        )
        .unwrap()
        .expect("a write");
        let ids: Vec<_> = doc.queue_configurations().iter().map(|q| q.id()).collect();
        assert_eq!(ids, vec![Some("theirs")]);
        assert_eq!(doc.lambda_function_configurations().len(), 1);
        assert!(doc.event_bridge_configuration().is_some());
    }

    #[test]
    fn filters_and_events_compare_semantically() {
        let a = ours("x", Some("in/"));
        let mut b = a.clone();
        b.events = vec!["s3:ObjectCreated:*".into(), "s3:ObjectCreated:*".into()];
        assert!(a.same_as(&b));
        let mut empty = ours("x", Some(""));
        assert!(empty.same_as(&ours("x", None)));
        empty.suffix = Some(".csv".into());
        assert!(!empty.same_as(&ours("x", None)));
        assert!(!a.same_as(&ours("x", Some("out/"))));
        // AWS answers `Prefix`; the SDK keeps it as an unknown name.
        let read = facts(
            None,
            NotificationKind::Queue,
            QUEUE,
            &[Event::from("s3:ObjectCreated:*")],
            Some(
                &NotificationConfigurationFilter::builder()
                    .key(
                        S3KeyFilter::builder()
                            .filter_rules(
                                FilterRule::builder()
                                    .name(FilterRuleName::from("Prefix"))
                                    .value("in/")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            ),
        );
        assert_eq!(read.prefix.as_deref(), Some("in/"));
    }
}
