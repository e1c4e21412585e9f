//! The compiled routing table of one bus, as cached by each [`super::store::Store`].
//!
//! Built by [`super::routing`] from the rules in the state; kept apart from it so that the
//! store can hold the cache without depending on the routing code that fills it.

use std::collections::HashMap;

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
}
