//! Payment provider connectors.
