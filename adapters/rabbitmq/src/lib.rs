//! Bazaar's event bus on RabbitMQ, through lapin.
//!
//! Topology, for a `prefix` (default `bazaar`):
//!
//! - a durable topic exchange `<prefix>.events`; an event's routing key is its type
//!   (`order.paid`), so a queue binds `order.*` or `#`;
//! - per consumer, a durable quorum queue `<prefix>.<consumer>` bound with the consumer's
//!   patterns; its dead letters (a rejected message, or one delivered more than
//!   [`DELIVERY_LIMIT`] times) go to the quorum queue `<prefix>.<consumer>.dlq`;
//! - per consumer and retry step, a quorum queue `<prefix>.<consumer>.retry.<n>` whose
//!   messages wait `delays[n]` (`x-message-ttl`) and are then dead-lettered back to the
//!   consumer's queue: retries with growing delays without a delay plugin.
//!
//! Publishing uses publisher confirms: `AmqpBus::publish` (the [`EventBus`](bazaar_domain::events::EventBus) port) returns only when the broker
//! confirmed every message (a message is confirmed once the quorum queues it is routed to have
//! it). Consuming acknowledges manually. See `docs/events.md`.

mod envelope;
mod link;
mod topology;

pub use envelope::{EnvelopeError, decode, encode};
pub use link::{AmqpBus, Link, LinkError, RETRIES_HEADER, Verdict, backoff, sleep_or_shutdown};
pub use topology::{ConsumerSpec, DELIVERY_LIMIT, Topology};
