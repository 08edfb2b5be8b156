//! What a product is, for tax: the code its seller gives it.

/// What a product is, for tax. Each product carries one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum TaxCode {
    /// Physical goods without a reduced rate.
    GeneralGoods,
    /// Printed books.
    Books,
    /// Basic foodstuffs.
    Food,
    /// Services supplied electronically without human intervention: pre-recorded courses,
    /// downloads, software.
    EService,
    /// An event streamed live: a live class, a webinar, a concert.
    LiveEvent,
}

impl TaxCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::GeneralGoods,
        Self::Books,
        Self::Food,
        Self::EService,
        Self::LiveEvent,
    ];

    /// Its stable name: `general_goods`, `books`, `food`, `e_service`, `live_event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeneralGoods => "general_goods",
            Self::Books => "books",
            Self::Food => "food",
            Self::EService => "e_service",
            Self::LiveEvent => "live_event",
        }
    }

    /// The code named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// Goods are shipped; the others are services.
    pub fn is_goods(self) -> bool {
        matches!(self, Self::GeneralGoods | Self::Books | Self::Food)
    }
}
