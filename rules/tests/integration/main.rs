//! The integration tests of `bridge-rules`, compiled as one test binary
//! (`cargo test -p bridge-rules --test integration`; one file's tests: `... --test
//! integration load::`). Add a new test file here as a module (`tests/tests/main.rs`'s
//! `every_test_file_is_a_module` checks it).

mod examples;
mod graph;
mod load;
mod schedule;
mod schema;
