//! Adapters that let other ecosystems run on gort.

#[cfg(feature = "hyper")]
pub mod hyper;
