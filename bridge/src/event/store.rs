//! Lazy access to an event's object bytes. Events carry only the object's address; a
//! handler that needs the bytes asks a store (S3 GetObject, possibly against a custom
//! endpoint, or a local directory for the embedded backend).

use std::path::{Component, Path, PathBuf};

/// Why the bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object s3://{bucket}/{key} not found")]
    NotFound { bucket: String, key: String },
    #[error("object key {key:?} cannot be a local path: {why}")]
    InvalidKey { key: String, why: &'static str },
    #[error("reading s3://{bucket}/{key}: {message}")]
    Other {
        bucket: String,
        key: String,
        message: String,
    },
}

/// Reads an object's bytes on demand. Implementations: [`LocalDirStore`] here; the S3
/// GetObject one (aws-sdk-s3, custom endpoint) lives with the AWS code in `infra`.
///
/// Synchronous on purpose: handlers are plain functions or child processes, and an async
/// implementation can block on its own runtime.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes; `version_id` selects a version when the store keeps versions.
    fn get(&self, bucket: &str, key: &str, version_id: Option<&str>)
        -> Result<Vec<u8>, StoreError>;
}

/// Local buckets are directories: `<root>/<bucket>/<key>`. Versions are not kept, so
/// `version_id` is ignored (the current bytes are returned).
#[derive(Debug, Clone)]
pub struct LocalDirStore {
    root: PathBuf,
}

impl LocalDirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDirStore { root: root.into() }
    }

    /// The file for a key; refuses keys that would leave the bucket directory.
    pub fn path_of(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        let invalid = |why| StoreError::InvalidKey {
            key: format!("{bucket}/{key}"),
            why,
        };
        if bucket.is_empty() || bucket.contains(['/', '\\']) || bucket == "." || bucket == ".." {
            return Err(invalid("the bucket name is not a single directory name"));
        }
        let rel = Path::new(key);
        if key.is_empty() || key.contains('\0') {
            return Err(invalid("empty or contains NUL"));
        }
        for component in rel.components() {
            match component {
                Component::Normal(_) => {}
                Component::CurDir => {}
                _ => return Err(invalid("it has `..` or is absolute")),
            }
        }
        Ok(self.root.join(bucket).join(rel))
    }
}

impl ObjectStore for LocalDirStore {
    fn get(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(bucket, key)?;
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::NotFound {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                }
            } else {
                StoreError::Other {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    message: format!("{}: {e}", path.display()),
                }
            }
        })
    }
}
