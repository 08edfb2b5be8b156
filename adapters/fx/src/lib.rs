//! Exchange-rate sources.
