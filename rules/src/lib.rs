//! Rule files: load, validate, desired state, diff.
