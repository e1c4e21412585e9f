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

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_ascii_and_unicode() {
        assert_eq!(fold("EventBridge"), "eventbridge");
        assert_eq!(fold("ÄÖÜ"), fold("äöü"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
        assert_eq!(fold("\u{212A}elvin"), fold("kelvin"));
        assert_eq!(fold("straße"), fold("STRASSE"));
    }
}
