//! Object keys in native S3 notifications are form-encoded (`+` for space, `%xx` for other
//! bytes); EventBridge keys are not. This module undoes the native encoding.

/// Decodes a form-encoded S3 key: `+` is a space, `%xx` a byte; the bytes are UTF-8.
///
/// A `%` not followed by two hex digits is kept as it is (S3 itself always encodes `%` as
/// `%25`, so this only happens for hand-made messages), and if the decoded bytes are not
/// UTF-8 the key is returned undecoded rather than mangled.
pub fn decode_form_key(raw: &str) -> String {
    if !raw.contains(['+', '%']) {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

fn hex(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode_form_key;

    #[test]
    fn decodes_plus_percent_and_utf8() {
        assert_eq!(decode_form_key("a+b"), "a b");
        assert_eq!(decode_form_key("a%2Bb"), "a+b");
        assert_eq!(decode_form_key("100%25"), "100%");
        assert_eq!(decode_form_key("caf%C3%A9%2F%E2%82%AC"), "café/€");
        assert_eq!(decode_form_key("plain/key.txt"), "plain/key.txt");
    }

    #[test]
    fn keeps_what_cannot_be_decoded() {
        assert_eq!(decode_form_key("50%"), "50%");
        assert_eq!(decode_form_key("%zz+x"), "%zz x");
        // %FF alone is not UTF-8: the raw key is kept rather than a lossy one.
        assert_eq!(decode_form_key("a%FF"), "a%FF");
    }
}
