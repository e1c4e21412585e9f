//! Where a message's body is kept.
//!
//! Most messages are a rule's delivery of an event to a queue with no input, input path or
//! transformer: their body is the event's envelope, which `bus_events` already keeps for the
//! console. Such a row names that envelope (`messages.event_row`) and keeps an empty `body`
//! (see migration 13 → 14 in `store`): a message row is written three times (sent, received,
//! deleted), so a second copy of the envelope was most of the bytes a group commit wrote.
//!
//! Every query that reads a body selects [`message_body!`] from [`messages_with_bodies!`],
//! so none can read the empty placeholder by mistake, and pruning keeps an envelope a message
//! still names ([`super::Store::prune_activity`]).

/// The body of the row `m` of [`messages_with_bodies!`]. NULL (which its reader fails on,
/// rather than handing out an empty body) if the envelope it names were gone.
macro_rules! message_body {
    () => {
        "CASE WHEN m.event_row IS NULL THEN m.body ELSE e.envelope END"
    };
}

/// `messages` as `m`, joined with its envelope (`e`) when it names one: a row-id lookup.
macro_rules! messages_with_bodies {
    () => {
        "messages m LEFT JOIN bus_events e ON e.id = m.event_row"
    };
}

pub(crate) use {message_body, messages_with_bodies};
