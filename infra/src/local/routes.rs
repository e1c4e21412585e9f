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
    pub(crate) rules: HashMap<String, RouteRule>,
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
