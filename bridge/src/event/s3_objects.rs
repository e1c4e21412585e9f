//! [`ObjectStore`] for S3 (GetObject through `infra::aws::S3Objects`, which honours a custom
//! endpoint such as moto or MinIO). Lives here rather than in `infra` because the trait is
//! the event module's, and `bridge` depends on `infra`, not the other way round.

use infra::aws::{AwsError, S3Objects};

use super::store::{ObjectStore, StoreError};

/// Reads through [`S3Objects::get_object_blocking`]: it must not be called from inside a
/// tokio runtime (async handlers call [`S3Objects::get_object`] directly instead).
impl ObjectStore for S3Objects {
    fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<u8>, StoreError> {
        self.get_object_blocking(bucket, key, version_id)
            .map_err(|e| {
                let message = e.to_string();
                // S3 says NoSuchKey (GetObject) or NoSuchVersion; both mean "not there".
                if matches!(e, AwsError::Call { .. })
                    && (message.contains("NoSuchKey") || message.contains("NoSuchVersion"))
                {
                    StoreError::NotFound {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    }
                } else {
                    StoreError::Other {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        message,
                    }
                }
            })
    }
}
