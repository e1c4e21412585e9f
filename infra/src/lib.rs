//! The cloud side: AWS resources and the embedded local backend.
