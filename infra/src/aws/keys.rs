//! KMS keys that encrypt queues and topics, read only: which key a `KmsMasterKeyId` names
//! (an alias, alias ARN, key id or key ARN: DescribeKey takes each), who manages it, and
//! its key policy (GetKeyPolicy, the `default` policy — the only one a key has).

use super::{AwsClients, AwsError};

/// What a key reference resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPolicy {
    /// A customer-managed key and its policy document.
    Customer(String),
    /// An AWS-managed key (`alias/aws/sqs`, `alias/aws/sns`…): its policy cannot be
    /// changed, and it admits no service principal.
    AwsManaged,
    /// The key does not exist, or its policy may not be read (the reason, one line).
    Unreadable(String),
}

/// Resolves `key` (as a queue's or topic's `KmsMasterKeyId` names it) and reads its policy.
/// A missing key or a refused read is a finding ([`KeyPolicy::Unreadable`]), not an error.
pub async fn read_key_policy(aws: &AwsClients, key: &str) -> Result<KeyPolicy, AwsError> {
    let described = match aws.kms.describe_key().key_id(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some() => {
            return Ok(KeyPolicy::Unreadable(
                AwsError::call("DescribeKey", format!("KMS key {key}"), e).to_string(),
            ))
        }
        Err(e) => return Err(AwsError::call("DescribeKey", format!("KMS key {key}"), e)),
    };
    let Some(meta) = described.key_metadata() else {
        return Ok(KeyPolicy::Unreadable(format!(
            "DescribeKey on KMS key {key} returned no key metadata"
        )));
    };
    if meta.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
        return Ok(KeyPolicy::AwsManaged);
    }
    let id = meta.key_id().to_string();
    match aws
        .kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
    {
        Ok(out) => Ok(match out.policy() {
            Some(doc) if !doc.is_empty() => KeyPolicy::Customer(doc.to_string()),
            _ => KeyPolicy::Unreadable(format!("KMS key {key} has no key policy")),
        }),
        Err(e) if e.as_service_error().is_some() => Ok(KeyPolicy::Unreadable(
            AwsError::call("GetKeyPolicy", format!("KMS key {key}"), e).to_string(),
        )),
        Err(e) => Err(AwsError::call("GetKeyPolicy", format!("KMS key {key}"), e)),
    }
}
