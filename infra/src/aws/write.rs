//! Every write call `bridge` makes to AWS, one method each, counted.
//!
//! The count is what makes idempotency testable: a second `apply` right after the first
//! must make zero write calls. A call is counted when it is sent, successful or not, so a
//! failing run still reports what it attempted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_eventbridge::types::{
    DeadLetterConfig, InputTransformer, RetryPolicy, RuleState, SqsParameters, Target,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::read::TargetFacts;
use super::{s3_notify, AwsClients, AwsError};

/// Write access to AWS, counting every call it sends.
#[derive(Debug)]
pub struct Writer<'a> {
    aws: &'a AwsClients,
    writes: AtomicUsize,
}

impl<'a> Writer<'a> {
    pub fn new(aws: &'a AwsClients) -> Writer<'a> {
        Writer {
            aws,
            writes: AtomicUsize::new(0),
        }
    }

    /// How many write calls were sent so far.
    pub fn write_calls(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a write call made elsewhere in `aws` (the archive writes).
    pub(super) fn count_call(&self) {
        self.count();
    }

    pub(super) fn clients(&self) -> &AwsClients {
        self.aws
    }

    /// Creates a queue with attributes and tags; returns `(url, arn)`.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(String, String), AwsError> {
        let mut call = self.aws.sqs.create_queue().queue_name(name);
        for (k, v) in attributes {
            call = call.attributes(QueueAttributeName::from(k.as_str()), v);
        }
        for (k, v) in tags {
            call = call.tags(k, v);
        }
        self.count();
        let url = call
            .send()
            .await
            .map_err(|e| AwsError::call("CreateQueue", format!("queue {name}"), e))?
            .queue_url()
            .map(str::to_string)
            .ok_or_else(|| AwsError::Invalid {
                resource: format!("queue {name}"),
                message: "CreateQueue returned no QueueUrl".into(),
            })?;
        let arn = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| AwsError::call("GetQueueAttributes", url.clone(), e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| AwsError::Invalid {
                resource: url.clone(),
                message: "GetQueueAttributes returned no QueueArn".into(),
            })?;
        Ok((url, arn))
    }

    pub async fn set_queue_attributes(
        &self,
        url: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        if attributes.is_empty() {
            return Ok(());
        }
        let mut call = self.aws.sqs.set_queue_attributes().queue_url(url);
        for (k, v) in attributes {
            call = call.attributes(QueueAttributeName::from(k.as_str()), v);
        }
        self.count();
        call.send()
            .await
            .map_err(|e| AwsError::call("SetQueueAttributes", url, e))?;
        Ok(())
    }

    pub async fn delete_queue(&self, url: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .sqs
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteQueue", url, e))?;
        Ok(())
    }

    /// Creates a topic with attributes and tags; returns its ARN.
    pub async fn create_topic(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut call = self.aws.sns.create_topic().name(name);
        for (k, v) in attributes {
            call = call.attributes(k, v);
        }
        for (k, v) in tags {
            let tag = aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Invalid {
                    resource: format!("topic {name}"),
                    message: format!("bad tag {k}: {e}"),
                })?;
            call = call.tags(tag);
        }
        self.count();
        call.send()
            .await
            .map_err(|e| AwsError::call("CreateTopic", format!("topic {name}"), e))?
            .topic_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::Invalid {
                resource: format!("topic {name}"),
                message: "CreateTopic returned no TopicArn".into(),
            })
    }

    pub async fn set_topic_attribute(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.count();
        self.aws
            .sns
            .set_topic_attributes()
            .topic_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| AwsError::call("SetTopicAttributes", arn, e))?;
        Ok(())
    }

    pub async fn delete_topic(&self, arn: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .sns
            .delete_topic()
            .topic_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteTopic", arn, e))?;
        Ok(())
    }

    /// Subscribes an endpoint; returns the subscription ARN, or `None` while it awaits
    /// confirmation (email, HTTP).
    pub async fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<Option<String>, AwsError> {
        let mut call = self
            .aws
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .return_subscription_arn(true);
        for (k, v) in attributes {
            call = call.attributes(k, v);
        }
        self.count();
        let arn = call
            .send()
            .await
            .map_err(|e| AwsError::call("Subscribe", format!("{topic_arn} -> {endpoint}"), e))?
            .subscription_arn()
            .map(str::to_string);
        Ok(arn.filter(|a| a != "PendingConfirmation" && a != "pending confirmation"))
    }

    pub async fn set_subscription_attribute(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), AwsError> {
        self.count();
        self.aws
            .sns
            .set_subscription_attributes()
            .subscription_arn(subscription_arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| AwsError::call("SetSubscriptionAttributes", subscription_arn, e))?;
        Ok(())
    }

    pub async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .sns
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(|e| AwsError::call("Unsubscribe", subscription_arn, e))?;
        Ok(())
    }

    /// Creates a custom event bus with tags; returns its ARN.
    pub async fn create_bus(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut call = self.aws.eventbridge.create_event_bus().name(name);
        for (k, v) in tags {
            let tag = aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Invalid {
                    resource: format!("event bus {name}"),
                    message: format!("bad tag {k}: {e}"),
                })?;
            call = call.tags(tag);
        }
        self.count();
        call.send()
            .await
            .map_err(|e| AwsError::call("CreateEventBus", format!("event bus {name}"), e))?
            .event_bus_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::Invalid {
                resource: format!("event bus {name}"),
                message: "CreateEventBus returned no EventBusArn".into(),
            })
    }

    /// Writes a bus's whole resource policy (PutPermission with `Policy`).
    pub async fn put_bus_policy(&self, name: &str, policy: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .eventbridge
            .put_permission()
            .event_bus_name(name)
            .policy(policy)
            .send()
            .await
            .map_err(|e| AwsError::call("PutPermission", format!("event bus {name}"), e))?;
        Ok(())
    }

    /// Removes one statement of a bus's policy by its id (RemovePermission).
    pub async fn remove_bus_statement(&self, name: &str, sid: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .eventbridge
            .remove_permission()
            .event_bus_name(name)
            .statement_id(sid)
            .send()
            .await
            .map_err(|e| {
                AwsError::call(
                    "RemovePermission",
                    format!("statement {sid} of event bus {name}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// Removes a bus's resource policy (RemovePermission with `RemoveAllPermissions`).
    pub async fn remove_bus_policy(&self, name: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .eventbridge
            .remove_permission()
            .event_bus_name(name)
            .remove_all_permissions(true)
            .send()
            .await
            .map_err(|e| AwsError::call("RemovePermission", format!("event bus {name}"), e))?;
        Ok(())
    }

    pub async fn delete_bus(&self, name: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .eventbridge
            .delete_event_bus()
            .name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteEventBus", format!("event bus {name}"), e))?;
        Ok(())
    }

    /// Creates or updates a rule; returns its ARN. Tags only take effect on creation
    /// (PutRule leaves an existing rule's tags alone), which is what ownership needs.
    pub async fn put_rule(
        &self,
        bus: &str,
        name: &str,
        event_pattern: &str,
        enabled: bool,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        self.put_rule_triggered(
            bus,
            name,
            (Some(event_pattern), None),
            enabled,
            description,
            tags,
        )
        .await
    }

    /// [`Self::put_rule`] for a rule with an event pattern or a `ScheduleExpression`
    /// (`trigger` = `(pattern, schedule)`, one of them set). PutRule replaces the whole
    /// definition, so switching from a pattern to a schedule clears the pattern.
    pub async fn put_rule_triggered(
        &self,
        bus: &str,
        name: &str,
        trigger: (Option<&str>, Option<&str>),
        enabled: bool,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let (event_pattern, schedule) = trigger;
        let mut call = self
            .aws
            .eventbridge
            .put_rule()
            .event_bus_name(bus)
            .name(name)
            .set_event_pattern(event_pattern.map(str::to_string))
            .set_schedule_expression(schedule.map(str::to_string))
            .state(if enabled {
                RuleState::Enabled
            } else {
                RuleState::Disabled
            })
            .set_description(description.map(str::to_string));
        for (k, v) in tags {
            let tag = aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Invalid {
                    resource: format!("rule {name}"),
                    message: format!("bad tag {k}: {e}"),
                })?;
            call = call.tags(tag);
        }
        self.count();
        call.send()
            .await
            .map_err(|e| AwsError::call("PutRule", format!("rule {name}"), e))?
            .rule_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::Invalid {
                resource: format!("rule {name}"),
                message: "PutRule returned no RuleArn".into(),
            })
    }

    pub async fn delete_rule(&self, bus: &str, name: &str) -> Result<(), AwsError> {
        self.count();
        self.aws
            .eventbridge
            .delete_rule()
            .event_bus_name(bus)
            .name(name)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteRule", format!("rule {name}"), e))?;
        Ok(())
    }

    /// Creates or replaces targets (by id). PutTargets reports per-target failures in a
    /// successful response; those are errors here.
    pub async fn put_targets(
        &self,
        bus: &str,
        rule: &str,
        targets: &[TargetFacts],
    ) -> Result<(), AwsError> {
        if targets.is_empty() {
            return Ok(());
        }
        let resource = format!("targets of rule {rule}");
        let mut call = self
            .aws
            .eventbridge
            .put_targets()
            .event_bus_name(bus)
            .rule(rule);
        for t in targets {
            call = call.targets(sdk_target(t).map_err(|message| AwsError::Invalid {
                resource: resource.clone(),
                message,
            })?);
        }
        self.count();
        let out = call
            .send()
            .await
            .map_err(|e| AwsError::call("PutTargets", resource.clone(), e))?;
        if out.failed_entry_count() > 0 {
            let failures: Vec<String> = out
                .failed_entries()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {} {}",
                        f.target_id().unwrap_or("?"),
                        f.error_code().unwrap_or(""),
                        f.error_message().unwrap_or("")
                    )
                })
                .collect();
            return Err(AwsError::Invalid {
                resource,
                message: format!("PutTargets rejected {}", failures.join("; ")),
            });
        }
        Ok(())
    }

    pub async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: &[String],
    ) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        let resource = format!("targets of rule {rule}");
        self.count();
        let out = self
            .aws
            .eventbridge
            .remove_targets()
            .event_bus_name(bus)
            .rule(rule)
            .set_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call("RemoveTargets", resource.clone(), e))?;
        if out.failed_entry_count() > 0 {
            return Err(AwsError::Invalid {
                resource,
                message: format!(
                    "RemoveTargets failed for {} target(s)",
                    out.failed_entry_count()
                ),
            });
        }
        Ok(())
    }

    /// Turns EventBridge delivery on or off for a bucket, preserving every other
    /// notification configuration. Counts a write only when one was needed.
    pub async fn set_bucket_eventbridge(
        &self,
        bucket: &str,
        enabled: bool,
    ) -> Result<bool, AwsError> {
        let wrote = s3_notify::set_eventbridge(&self.aws.s3, bucket, enabled).await;
        let attempted_put = matches!(
            wrote,
            Ok(true)
                | Err(AwsError::Call {
                    operation: "PutBucketNotificationConfiguration",
                    ..
                })
        );
        if attempted_put {
            self.count();
        }
        wrote
    }
}

impl Writer<'_> {
    /// Applies the stack's changes to a bucket's notification document (read-modify-write,
    /// see [`s3_notify::update`]). Counts a write only when one was needed.
    pub async fn update_bucket_notifications(
        &self,
        bucket: &str,
        update: &s3_notify::BucketUpdate,
    ) -> Result<bool, AwsError> {
        let wrote = s3_notify::update(&self.aws.s3, bucket, update).await;
        let attempted_put = matches!(
            wrote,
            Ok(true)
                | Err(AwsError::Call {
                    operation: "PutBucketNotificationConfiguration",
                    ..
                })
        );
        if attempted_put {
            self.count();
        }
        wrote
    }

    /// Sets and removes tags on a queue: one call for each non-empty half.
    pub async fn tag_queue(
        &self,
        url: &str,
        set: &BTreeMap<String, String>,
        unset: &[String],
    ) -> Result<(), AwsError> {
        if !set.is_empty() {
            self.count();
            self.aws
                .sqs
                .tag_queue()
                .queue_url(url)
                .set_tags(Some(set.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::call("TagQueue", url, e))?;
        }
        if !unset.is_empty() {
            self.count();
            self.aws
                .sqs
                .untag_queue()
                .queue_url(url)
                .set_tag_keys(Some(unset.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::call("UntagQueue", url, e))?;
        }
        Ok(())
    }

    /// Sets and removes tags on a topic: one call for each non-empty half.
    pub async fn tag_topic(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        unset: &[String],
    ) -> Result<(), AwsError> {
        if !set.is_empty() {
            let mut call = self.aws.sns.tag_resource().resource_arn(arn);
            for (k, v) in set {
                let tag = aws_sdk_sns::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| AwsError::Invalid {
                        resource: arn.to_string(),
                        message: format!("bad tag {k}: {e}"),
                    })?;
                call = call.tags(tag);
            }
            self.count();
            call.send()
                .await
                .map_err(|e| AwsError::call("TagResource", arn, e))?;
        }
        if !unset.is_empty() {
            self.count();
            self.aws
                .sns
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(unset.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::call("UntagResource", arn, e))?;
        }
        Ok(())
    }

    /// Sets and removes tags on a rule or bus: one call for each non-empty half.
    pub async fn tag_eventbridge(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        unset: &[String],
    ) -> Result<(), AwsError> {
        if !set.is_empty() {
            let mut call = self.aws.eventbridge.tag_resource().resource_arn(arn);
            for (k, v) in set {
                let tag = aws_sdk_eventbridge::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| AwsError::Invalid {
                        resource: arn.to_string(),
                        message: format!("bad tag {k}: {e}"),
                    })?;
                call = call.tags(tag);
            }
            self.count();
            call.send()
                .await
                .map_err(|e| AwsError::call("TagResource", arn, e))?;
        }
        if !unset.is_empty() {
            self.count();
            self.aws
                .eventbridge
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(unset.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::call("UntagResource", arn, e))?;
        }
        Ok(())
    }
}

fn sdk_target(t: &TargetFacts) -> Result<Target, String> {
    let mut b = Target::builder()
        .id(&t.id)
        .arn(&t.arn)
        .set_input(t.input.clone())
        .set_input_path(t.input_path.clone())
        .set_role_arn(t.role_arn.clone());
    if let Some((paths, template)) = &t.input_transformer {
        let mut it = InputTransformer::builder().input_template(template);
        for (k, v) in paths {
            it = it.input_paths_map(k, v);
        }
        b = b.input_transformer(it.build().map_err(|e| e.to_string())?);
    }
    if let Some(dlq) = &t.dead_letter_arn {
        b = b.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
    }
    if let Some(group) = &t.message_group_id {
        b = b.sqs_parameters(SqsParameters::builder().message_group_id(group).build());
    }
    if t.maximum_retry_attempts.is_some() || t.maximum_event_age_seconds.is_some() {
        b = b.retry_policy(
            RetryPolicy::builder()
                .set_maximum_retry_attempts(t.maximum_retry_attempts)
                .set_maximum_event_age_in_seconds(t.maximum_event_age_seconds)
                .build(),
        );
    }
    b.build().map_err(|e| e.to_string())
}
