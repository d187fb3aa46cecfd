//! Placeholder; replaced by the crate's real sources.
