//! The audit log: every sensitive action recorded (who, what, when, outcome, origin, the
//! resource; PCI DSS v4.0.1 10.2.2), hash-chained so that editing, deleting, reordering or
//! truncating records is detected, with checkpoints of the chain signed by Ed25519, and
//! exports compliance can verify offline.
//!
//! - `record.rs`: an entry, its canonical encoding and its place in the chain.
//! - `checkpoint.rs`: the signing key, signed checkpoints.
//! - `export.rs`: the export's JSON Lines and its signed manifest; [`ExportVerifier`] names
//!   the first bad record.
//! - `store.rs`: the [`AuditStore`] port; `service.rs`: [`AuditTrail`].

mod checkpoint;
mod export;
mod record;
mod service;
mod store;
#[cfg(test)]
mod tests;

pub use checkpoint::*;
pub use export::*;
pub use record::*;
pub use service::*;
pub use store::*;
