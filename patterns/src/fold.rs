//! Case folding for `equals-ignore-case` and its prefix/suffix forms.

use std::borrow::Cow;

/// Folds case the same way on both sides of a comparison. ASCII takes a fast path; other
/// text uses Unicode lower-casing, which maps every cased letter to one canonical form
/// (including the Kelvin sign and final sigma cases `to_lowercase` knows).
pub(crate) fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else {
        // Upper then lower so that letters with no single lowercase form (e.g. 'ẞ')
        // meet their lowercase twins.
        Cow::Owned(
            text.chars()
                .flat_map(char::to_uppercase)
                .flat_map(char::to_lowercase)
                .collect(),
        )
    }
}

/// Longest ASCII text [`fold_value`] folds on the stack.
const INLINE: usize = 40;

/// Folded text of an event value: like [`fold`], but short ASCII text is lower-cased
/// into a stack buffer, so that matching `equals-ignore-case` against upper-case values
/// (street names, enum-like fields) does not allocate per value.
pub(crate) enum Folded<'a> {
    Same(&'a str),
    Inline([u8; INLINE], usize),
    Owned(String),
}

impl std::ops::Deref for Folded<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Folded::Same(s) => s,
            // Lower-cased ASCII is ASCII, so this never fails.
            Folded::Inline(bytes, len) => std::str::from_utf8(&bytes[..*len]).unwrap_or_default(),
            Folded::Owned(s) => s,
        }
    }
}

/// [`fold`] for matching: the same result, without allocating for short ASCII text.
pub(crate) fn fold_value(text: &str) -> Folded<'_> {
    let bytes = text.as_bytes();
    if bytes.len() <= INLINE && bytes.is_ascii() {
        if !bytes.iter().any(u8::is_ascii_uppercase) {
            return Folded::Same(text);
        }
        let mut buffer = [0u8; INLINE];
        for (to, from) in buffer.iter_mut().zip(bytes) {
            *to = from.to_ascii_lowercase();
        }
        return Folded::Inline(buffer, bytes.len());
    }
    match fold(text) {
        Cow::Borrowed(s) => Folded::Same(s),
        Cow::Owned(s) => Folded::Owned(s),
    }
}

#[cfg(test)]
mod tests {
    use super::{fold, fold_value};

    #[test]
    fn value_folding_agrees_with_fold() {
        let long = "MIXED Case ".repeat(5);
        for text in [
            "",
            "abc",
            "ABC",
            "Jefferson",
            "17TH",
            "a.PNG",
            "ÄÖÜ",
            "straße",
            &long,
            "0123456789012345678901234567890123456789",
            "0123456789012345678901234567890123456789X",
        ] {
            assert_eq!(&*fold_value(text), fold(text).as_ref(), "{text:?}");
        }
        assert!(matches!(fold_value("JEFFERSON"), super::Folded::Inline(..)));
    }

    #[test]
    fn folds_ascii_and_unicode() {
        assert_eq!(fold("EventBridge"), "eventbridge");
        assert_eq!(fold("ÄÖÜ"), fold("äöü"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
        assert_eq!(fold("\u{212A}elvin"), fold("kelvin"));
        assert_eq!(fold("straße"), fold("STRASSE"));
    }
}
