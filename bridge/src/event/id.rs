//! The de-duplication id.
//!
//! The same S3 change can reach a consumer twice: natively (S3 -> SQS/SNS) and through
//! EventBridge, or twice on one path (at-least-once delivery). Neither path's own message
//! id survives the other path, so for S3 changes the id is derived from what both paths
//! carry: `sha256(kind \n bucket \n key \n version-id \n sequencer)`, hex, first 32
//! digits, prefixed `s3-`. The sequencer orders changes to one key, so two different changes
//! of one key get different ids. Kinds whose messages carry no sequencer (restores, tags,
//! ACLs, transitions) add the event time, to the second, instead; their ids are stable per path but
//! may differ between the native and EventBridge paths if the times differ.
//!
//! Custom EventBridge events use their EventBridge `id` (`eb-<id>`); test events hash their
//! bucket, time and request id.

use sha2::{Digest, Sha256};

/// `prefix-` + the first 128 bits of SHA-256 over the parts, each followed by a newline.
pub fn hashed(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(prefix.len() + 33);
    out.push_str(prefix);
    out.push('-');
    for byte in digest.iter().take(16) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Fills in [`super::Event::id`] for an S3 change from its identifying fields.
pub(crate) fn s3_change_id(event: &super::Event) -> String {
    let kind = event.kind.name();
    // To the second: native times carry milliseconds (`...:00.000Z`), EventBridge's do not.
    let time = if event.sequencer.is_some() {
        ""
    } else {
        let time = event.time.as_deref().unwrap_or("");
        time.get(..19).unwrap_or(time)
    };
    hashed(
        "s3",
        &[
            kind,
            event.bucket.as_deref().unwrap_or(""),
            event.key.as_deref().unwrap_or(""),
            event.version_id.as_deref().unwrap_or(""),
            event.sequencer.as_deref().unwrap_or(""),
            time,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::hashed;
    use crate::event::Kind;

    #[test]
    fn kind_names_are_the_serialized_ones() {
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).expect("serializes"), kind.name());
        }
    }

    #[test]
    fn hashed_is_deterministic_and_separates_parts() {
        assert_eq!(hashed("s3", &["a", "b"]), hashed("s3", &["a", "b"]));
        assert_ne!(hashed("s3", &["ab", ""]), hashed("s3", &["a", "b"]));
        assert_eq!(hashed("s3", &["x"]).len(), 3 + 32);
    }
}
