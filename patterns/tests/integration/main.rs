//! The integration tests of `bridge-patterns`, compiled as one test binary
//! (`cargo test -p bridge-patterns --test integration`; one file's tests: `... --test
//! integration conformance::`). Add a new test file here as a module (`tests/tests/main.rs`'s
//! `every_test_file_is_a_module` checks it).

mod cases;
mod conformance;
mod event_ruler;
mod properties;
