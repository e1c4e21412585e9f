//! Ownership: how a backend tells the resources a stack created from everyone else's.
//!
//! Every resource `bridge` creates carries both tags; a resource is a stack's only when it
//! carries both with that stack's name. Anything else is never changed or deleted.

use std::collections::BTreeMap;

/// The tag every resource `bridge` creates carries.
pub const MANAGED_BY_KEY: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "bridge";
/// The tag naming the stack (one project's set of resources) that owns a resource.
pub const STACK_KEY: &str = "bridge:stack";

/// The ownership tags for a stack.
pub fn ownership_tags(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
        (STACK_KEY.to_string(), stack.to_string()),
    ])
}

/// Whether `tags` say the resource belongs to `stack`.
pub fn owned_by(tags: &BTreeMap<String, String>, stack: &str) -> bool {
    tags.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
        && tags.get(STACK_KEY).map(String::as_str) == Some(stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tags_with_the_stack_name_make_ownership() {
        let tags = ownership_tags("a");
        assert!(owned_by(&tags, "a"));
        assert!(!owned_by(&tags, "b"));
        let mut only_stack = tags.clone();
        only_stack.remove(MANAGED_BY_KEY);
        assert!(!owned_by(&only_stack, "a"));
    }
}
