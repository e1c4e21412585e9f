//! Any text: `normalize` returns events or an error, never panics; every event it returns
//! serializes to JSON that reads back as an event with the same id and kind (the stable JSON
//! handlers rely on; `original` is not compared because floats need not round-trip bit-exact).
//! Seed it with the fixture bodies: `cp bridge/tests/fixtures/normalize/*.body.json fuzz/corpus/normalize/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(events) = bridge::event::normalize(text) {
            for event in events {
                let json = serde_json::to_string(&event).expect("an event always serializes");
                let back: bridge::event::Event =
                    serde_json::from_str(&json).expect("a serialized event reads back");
                assert_eq!((back.id, back.kind), (event.id, event.kind));
            }
        }
    }
});
