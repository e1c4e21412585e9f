//! The compiled routing table of one bus, as cached by each [`super::store::Store`].
//!
//! Built by [`super::routing`] from the rules in the state; kept apart from it so that the
//! store can hold the cache without depending on the routing code that fills it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::rule::TargetSpec;

/// The compiled rules of one bus.
#[derive(Debug)]
pub struct BusRoutes {
    /// The state's `rules_generation` these routes were built at; stale when it moved.
    pub(crate) generation: i64,
    pub(crate) matcher: patterns::Matcher,
    /// The enabled rules with a pattern, by name, in the order they were added. A match is
    /// handed from the thread that matched to the writer as places in this list (valid for
    /// routes of the same generation, which are built from the same rules in the same order),
    /// so that the writer neither hashes names nor copies them.
    rules: Vec<(String, RouteRule)>,
    /// Each rule's place in `rules`.
    places: HashMap<String, usize>,
}

impl BusRoutes {
    pub(crate) fn new(generation: i64, matcher: patterns::Matcher) -> BusRoutes {
        BusRoutes {
            generation,
            matcher,
            rules: Vec::new(),
            places: HashMap::new(),
        }
    }

    /// Adds (or replaces) the rule `name`.
    pub(crate) fn add_rule(&mut self, name: String, rule: RouteRule) {
        match self.places.get(&name) {
            Some(&place) => self.rules[place].1 = rule,
            None => {
                self.places.insert(name.clone(), self.rules.len());
                self.rules.push((name, rule));
            }
        }
    }

    /// The place of rule `name` (see [`BusRoutes::at`]).
    pub(crate) fn place(&self, name: &str) -> Option<usize> {
        self.places.get(name).copied()
    }

    /// The rule `name`.
    pub(crate) fn rule(&self, name: &str) -> Option<&RouteRule> {
        self.place(name).and_then(|p| self.at(p)).map(|(_, r)| r)
    }

    /// The rule at `place`, with its name.
    pub(crate) fn at(&self, place: usize) -> Option<(&str, &RouteRule)> {
        self.rules.get(place).map(|(n, r)| (n.as_str(), r))
    }
}

/// One enabled rule of the bus: its ARN (for envelopes and DLQ attributes) and targets.
#[derive(Debug)]
pub(crate) struct RouteRule {
    pub(crate) arn: String,
    pub(crate) targets: Vec<TargetSpec>,
    /// `rule <bus>/<name>`: what its activity rows name as their origin.
    pub(crate) activity_origin: String,
}

impl RouteRule {
    pub(crate) fn new(arn: String, bus: &str, name: &str, targets: Vec<TargetSpec>) -> RouteRule {
        RouteRule {
            arn,
            targets,
            activity_origin: format!("rule {bus}/{name}"),
        }
    }

    /// `<bus>/<name>`.
    pub(crate) fn origin(&self) -> &str {
        &self.activity_origin["rule ".len()..]
    }
}

/// Routes published by a store for other threads: those that prepare PutEvents calls before
/// handing them to the writer ([`super::GroupCommit`]) match events against them, and the
/// writer uses their matches when the routes are still current.
pub(crate) type SharedRoutes = Arc<RwLock<HashMap<String, Arc<BusRoutes>>>>;

/// A store's compiled routes per bus; every rebuild is also published to [`Self::shared`].
#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    pub(crate) local: HashMap<String, Arc<BusRoutes>>,
    pub(crate) shared: SharedRoutes,
}

impl RouteCache {
    /// Keeps `routes` for `bus`, and publishes them.
    pub(crate) fn insert(&mut self, bus: &str, routes: BusRoutes) {
        let routes = Arc::new(routes);
        if let Ok(mut shared) = self.shared.write() {
            shared.insert(bus.to_string(), Arc::clone(&routes));
        }
        self.local.insert(bus.to_string(), routes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str) -> RouteRule {
        RouteRule::new(format!("arn:{name}"), "default", name, Vec::new())
    }

    #[test]
    fn rules_are_found_by_name_and_by_place() {
        let mut routes = BusRoutes::new(7, patterns::Matcher::new());
        routes.add_rule("b".into(), rule("b"));
        routes.add_rule("a".into(), rule("a"));
        // Added again: replaced where it was.
        routes.add_rule("b".into(), rule("b2"));
        assert_eq!(routes.place("b"), Some(0));
        assert_eq!(routes.place("a"), Some(1));
        assert_eq!(routes.place("c"), None);
        let (name, b) = routes.at(0).expect("place 0");
        assert_eq!((name, b.arn.as_str()), ("b", "arn:b2"));
        assert_eq!(routes.rule("a").map(|r| r.origin()), Some("default/a"));
        assert!(routes.at(2).is_none());
        assert!(routes.rule("c").is_none());
    }
}
