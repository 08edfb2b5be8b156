use std::fmt;

/// Declares an id type: a UUID behind a private field, so an id of one kind is never taken
/// for another and only `from_uuid` makes one. Every id in Bazaar is declared with it.
///
/// ```
/// bazaar_ledger::uuid_id!(
///     /// A widget's id.
///     WidgetId
/// );
/// let id = WidgetId::from_u128(7);
/// assert_eq!(WidgetId::from_uuid(id.as_uuid()), id);
/// assert_eq!(format!("{id:?}"), "WidgetId(00000000-0000-0000-0000-000000000007)");
/// ```
#[macro_export]
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::Uuid);

        impl $name {
            /// The id with this UUID.
            pub const fn from_uuid(uuid: $crate::Uuid) -> Self {
                Self(uuid)
            }

            /// The id whose UUID has this 128-bit value.
            pub const fn from_u128(value: u128) -> Self {
                Self($crate::Uuid::from_u128(value))
            }

            /// The UUID, to store or to send.
            pub const fn as_uuid(self) -> $crate::Uuid {
                self.0
            }

            /// Whether this is the nil UUID.
            pub fn is_nil(self) -> bool {
                self.0.is_nil()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

crate::uuid_id!(
    /// Identifies an account. Chosen by the client; never nil.
    AccountId
);
crate::uuid_id!(
    /// Identifies a transfer. Chosen by the client and used as its idempotency key;
    /// never nil.
    TransferId
);

/// A ledger timestamp: microseconds since the Unix epoch, UTC.
///
/// The ledger assigns them, strictly increasing: every batch of transfers gets one
/// timestamp of its own, so no point in history ever sees half a batch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant: the last timestamp of a ledger that has handed
    /// out none.
    pub const MIN: Self = Self(i64::MIN);
    /// The latest representable instant, where additions saturate.
    pub const MAX: Self = Self(i64::MAX);

    /// The instant `micros` microseconds after the Unix epoch (before it, if negative).
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch, UTC; negative before it.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The instant `seconds` later, saturating at [`Timestamp::MAX`].
    pub fn saturating_add_secs(self, seconds: u32) -> Self {
        Self(
            self.0
                .saturating_add(i64::from(seconds).saturating_mul(1_000_000)),
        )
    }

    /// The instant `duration` later (whole microseconds), saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, duration: std::time::Duration) -> Self {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(micros))
    }

    /// The next representable instant, saturating at [`Timestamp::MAX`].
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}us", self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Timestamp;

    #[test]
    fn adding_a_duration_counts_whole_microseconds_and_saturates() {
        let t = Timestamp::from_micros(1_000);
        assert_eq!(
            t.saturating_add(Duration::from_millis(2)).as_micros(),
            3_000
        );
        assert_eq!(
            t.saturating_add(Duration::from_nanos(999)).as_micros(),
            1_000
        );
        assert_eq!(t.saturating_add(Duration::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::MAX.saturating_add(Duration::from_secs(1)),
            Timestamp::MAX
        );
    }
}
