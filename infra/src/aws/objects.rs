//! Reading S3 objects, for consumers that resolve an S3 event to the object's bytes.

use std::sync::{Arc, OnceLock};

use super::AwsError;

/// A thin S3 reader: `get_object(bucket, key, version)` → bytes.
///
/// Kept apart from the planning clients so a consumer needs only this one capability.
#[derive(Debug, Clone)]
pub struct S3Objects {
    s3: aws_sdk_s3::Client,
    /// For the blocking API: one runtime for the reader's whole life, because pooled
    /// connections belong to the runtime that opened them.
    runtime: Arc<OnceLock<tokio::runtime::Runtime>>,
}

impl S3Objects {
    pub fn new(s3: aws_sdk_s3::Client) -> S3Objects {
        S3Objects {
            s3,
            runtime: Arc::new(OnceLock::new()),
        }
    }

    /// Reads the whole object. `version` pins an exact version (as S3 events carry
    /// `object.version-id`), so a later overwrite cannot change what the event refers to.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<u8>, AwsError> {
        let resource = format!("s3://{bucket}/{key}");
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::call("GetObject", resource.clone(), e))?;
        let body = out.body.collect().await.map_err(|e| AwsError::Invalid {
            resource,
            message: format!("reading the object body failed: {e}"),
        })?;
        Ok(body.into_bytes().to_vec())
    }

    /// Reads the whole object synchronously, on the reader's own current-thread runtime.
    ///
    /// For callers that are not async (a blocking consumer loop). Must not be called from
    /// inside a tokio runtime (tokio forbids nested `block_on`).
    pub fn get_object_blocking(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<u8>, AwsError> {
        let runtime = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| AwsError::Invalid {
                        resource: format!("s3://{bucket}/{key}"),
                        message: format!("cannot start an async runtime: {e}"),
                    })?;
                self.runtime.get_or_init(|| rt)
            }
        };
        runtime.block_on(self.get_object(bucket, key, version))
    }
}
