//! The integration tests of `bridge-infra`, compiled as ONE test binary
//! (`cargo test -p bridge-infra --test integration`; one file's tests: `cargo test -p
//! bridge-infra --test integration local_queue::`). One binary links the AWS SDK once
//! instead of once per file (see docs/testing.md). Add a new test file here as a module
//! (`tests/tests/main.rs`'s `every_test_file_is_a_module` checks it). `local_large_files`
//! caps the address space of a child process of this binary.

mod aws_support;
mod local_support;

mod aws_archives;
mod aws_buses;
mod aws_delivery;
mod aws_example;
mod aws_notifications;
mod aws_objects;
mod aws_s3_notify;
mod aws_stack;
mod local_apply;
mod local_archive;
mod local_dead_letters;
mod local_group_calls;
mod local_group_commit;
mod local_group_writes;
mod local_inspect;
mod local_large_files;
mod local_power_loss;
mod local_queue;
mod local_routing;
mod local_schedule;
mod local_watch;
mod plan_json;
