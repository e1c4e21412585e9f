//! Any text: parsing a pattern returns a pattern or an error, never panics; a valid
//! pattern matches itself-shaped input without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(pattern) = patterns::Pattern::parse(text) {
            let _ = pattern.matches_str(text);
        }
    }
});
