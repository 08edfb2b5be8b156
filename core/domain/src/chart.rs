//! The chart of accounts: which ledger accounts exist, per currency, and how each behaves.
//!
//! Every account has a deterministic id (a name-based UUID of its code, owner and currency),
//! so any part of the system can name `seller:{id}:pending` in EUR without a lookup, and
//! opening it twice is a harmless idempotent repeat.

use bazaar_ledger::{
    AccountCode, AccountError, AccountId, BalanceConstraint, NewAccount, Owner, Side,
};
use bazaar_money::Currency;
use uuid::Uuid;

/// The namespace of Bazaar's ledger account ids (a random, fixed UUID).
const ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_52a4_8b0e_4f5d_9a37_1c2e_b7f0_4a91);

bazaar_ledger::uuid_id!(
    /// A seller's id.
    SellerId
);

bazaar_ledger::uuid_id!(
    /// A loan's id (`lending/`): the owner of the loan's own receivable and unearned-fee
    /// accounts.
    LoanId
);

/// A payment provider's short name, e.g. `sandbox`; `[a-z0-9_]{1,32}`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ProviderName(String);

/// A tax jurisdiction, e.g. `DE` or `US-CA`; `[A-Z0-9-]{2,16}`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Jurisdiction(String);

/// A name that does not fit its format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InvalidName;

impl ProviderName {
    /// A provider name of 1 to 32 characters from `[a-z0-9_]`; [`InvalidName`] otherwise.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let valid = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        valid.then(|| Self(name.to_owned())).ok_or(InvalidName)
    }

    /// The name as given, e.g. `sandbox`: the owner of the provider's clearing account.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Jurisdiction {
    /// A code of 2 to 16 characters from `[A-Z0-9-]`; [`InvalidName`] otherwise.
    pub fn new(code: &str) -> Result<Self, InvalidName> {
        let valid = (2..=16).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Self(code.to_owned())).ok_or(InvalidName)
    }

    /// The code as given, e.g. `DE`: the owner of its tax-payable account.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Platform income.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Revenue {
    /// The commission taken from each sale, in the seller's settlement currency; credited
    /// at capture, reversed pro rata by refunds.
    Commission,
    /// The spread kept on a sale converted into another settlement currency; credited at
    /// capture, reversed pro rata by refunds.
    FxSpread,
    /// Fees sellers pay for instant payouts, taken when the payout opens.
    InstantPayoutFees,
    /// Fees on loans to sellers, earned as repayments collect them (`lending/`).
    LoanFees,
}

/// Platform costs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Expense {
    /// Payment providers' fees, debited when a provider's settlement is posted.
    PspFees,
    /// Chargeback losses the platform bears itself. No flow posts here yet: a chargeback
    /// reverses the sale's capture legs instead.
    Chargebacks,
    /// What the platform's bank charges, found when its statements are reconciled.
    BankCharges,
    /// Loan advances written off when a loan is charged off.
    LoanLosses,
}

/// An account of the chart, before its currency is chosen.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum ChartAccount {
    /// What a payment provider owes the platform after capture.
    PspClearing(ProviderName),
    /// Cash at the platform's bank.
    Bank,
    /// A seller's earnings not yet available (hold period, risk).
    SellerPending(SellerId),
    /// A seller's earnings that can be paid out.
    SellerAvailable(SellerId),
    /// Funds held back from a seller against refunds and disputes.
    SellerReserve(SellerId),
    /// Payouts sent to a rail and not yet confirmed.
    PayoutsInTransit,
    /// Platform income, one account per source.
    Revenue(Revenue),
    /// Platform costs, one account per kind.
    Expense(Expense),
    /// The platform's position in a currency from conversions.
    FxPosition,
    /// Tax collected and owed to an authority.
    TaxPayable(Jurisdiction),
    /// What a seller still owes on one loan, advance and fee: debited with both at
    /// disbursement, credited by every repayment and by the charge-off. It can never be
    /// credited beyond what was debited, so a loan is never repaid twice.
    LoansReceivable(LoanId),
    /// The part of one loan's receivable that is its fee, not yet earned: credited at
    /// disbursement, moved to `revenue_loan_fees` as repayments collect it. It can never go
    /// below zero, so a fee is never earned twice.
    LoanFeesUnearned(LoanId),
    /// Explicit rounding residue.
    Rounding,
    /// Money a provider captured for a checkout that was already cancelled: owed back to the
    /// buyer, never to a seller, until the automatic refund clears it.
    CapturedUnfulfilled,
}

impl ChartAccount {
    /// The account's purpose code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PspClearing(_) => "psp_clearing",
            Self::Bank => "bank",
            Self::SellerPending(_) => "seller_pending",
            Self::SellerAvailable(_) => "seller_available",
            Self::SellerReserve(_) => "seller_reserve",
            Self::PayoutsInTransit => "payouts_in_transit",
            Self::Revenue(Revenue::Commission) => "revenue_commission",
            Self::Revenue(Revenue::FxSpread) => "revenue_fx_spread",
            Self::Revenue(Revenue::InstantPayoutFees) => "revenue_instant_payout_fees",
            Self::Revenue(Revenue::LoanFees) => "revenue_loan_fees",
            Self::Expense(Expense::PspFees) => "expense_psp_fees",
            Self::Expense(Expense::Chargebacks) => "expense_chargebacks",
            Self::Expense(Expense::BankCharges) => "expense_bank_charges",
            Self::Expense(Expense::LoanLosses) => "expense_loan_losses",
            Self::FxPosition => "fx_position",
            Self::TaxPayable(_) => "tax_payable",
            Self::LoansReceivable(_) => "loans_receivable",
            Self::LoanFeesUnearned(_) => "loan_fees_unearned",
            Self::Rounding => "rounding",
            Self::CapturedUnfulfilled => "captured_unfulfilled",
        }
    }

    /// Who the account belongs to: `seller:{id}`, the provider, the jurisdiction, or the
    /// platform (empty).
    pub fn owner(&self) -> String {
        match self {
            Self::SellerPending(seller)
            | Self::SellerAvailable(seller)
            | Self::SellerReserve(seller) => format!("seller:{seller}"),
            Self::PspClearing(provider) => provider.0.clone(),
            Self::TaxPayable(jurisdiction) => jurisdiction.0.clone(),
            Self::LoansReceivable(loan) | Self::LoanFeesUnearned(loan) => format!("loan:{loan}"),
            _ => String::new(),
        }
    }

    /// The side that increases the account: debit for what the platform holds or spends
    /// (clearing, bank, expenses, FX position, loans, rounding), credit for what it owes
    /// (sellers' balances, payouts in transit, tax, captured-but-unfulfilled money) and for
    /// revenue.
    pub fn normal_side(&self) -> Side {
        match self {
            Self::PspClearing(_)
            | Self::Bank
            | Self::Expense(_)
            | Self::FxPosition
            | Self::LoansReceivable(_)
            | Self::Rounding => Side::Debit,
            Self::SellerPending(_)
            | Self::SellerAvailable(_)
            | Self::SellerReserve(_)
            | Self::PayoutsInTransit
            | Self::Revenue(_)
            | Self::TaxPayable(_)
            | Self::LoanFeesUnearned(_)
            | Self::CapturedUnfulfilled => Side::Credit,
        }
    }

    /// Money held for a seller can never be spent twice: its available and reserved
    /// balances may not go below zero. The pending balance may: a refund or chargeback that
    /// arrives after its funds were released reverses the capture's credit on the pending
    /// account, and the shortfall is what the seller owes, netted from the next releases and
    /// held back from payouts (`Payouts::payable`), never refused (the buyer's money must
    /// move). A loan's receivable is never credited beyond what it was debited and its
    /// unearned fee never goes below zero, so two repayments racing cannot collect more than
    /// is owed. The platform's other accounts are unconstrained, since clearing, FX and
    /// rounding positions legitimately go either way.
    pub fn constraint(&self) -> BalanceConstraint {
        match self {
            Self::SellerAvailable(_) | Self::SellerReserve(_) | Self::LoanFeesUnearned(_) => {
                BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 }
            }
            Self::LoansReceivable(_) => {
                BalanceConstraint::CreditsMustNotExceedDebits { overdraft: 0 }
            }
            _ => BalanceConstraint::Unconstrained,
        }
    }

    /// The account's id in `currency`.
    pub fn id(&self, currency: Currency) -> AccountId {
        let name = format!("{}/{}/{}", self.code(), self.owner(), currency.code());
        AccountId::from_uuid(Uuid::new_v5(&ACCOUNT_NAMESPACE, name.as_bytes()))
    }

    /// The request that opens the account in `currency`. Codes and owners are built from
    /// validated parts, so this fails only if the chart itself is wrong (a test checks it
    /// is not).
    pub fn new_account(&self, currency: Currency) -> Result<NewAccount, AccountError> {
        Ok(NewAccount {
            id: self.id(currency),
            currency,
            code: AccountCode::new(self.code())?,
            owner: Owner::new(&self.owner())?,
            normal_side: self.normal_side(),
            constraint: self.constraint(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seller(n: u128) -> SellerId {
        SellerId::from_uuid(Uuid::from_u128(n))
    }

    fn every_kind() -> Vec<ChartAccount> {
        vec![
            ChartAccount::PspClearing(ProviderName::new("sandbox").unwrap()),
            ChartAccount::Bank,
            ChartAccount::SellerPending(seller(1)),
            ChartAccount::SellerAvailable(seller(1)),
            ChartAccount::SellerReserve(seller(1)),
            ChartAccount::PayoutsInTransit,
            ChartAccount::Revenue(Revenue::Commission),
            ChartAccount::Revenue(Revenue::FxSpread),
            ChartAccount::Revenue(Revenue::InstantPayoutFees),
            ChartAccount::Revenue(Revenue::LoanFees),
            ChartAccount::Expense(Expense::PspFees),
            ChartAccount::Expense(Expense::Chargebacks),
            ChartAccount::Expense(Expense::BankCharges),
            ChartAccount::Expense(Expense::LoanLosses),
            ChartAccount::FxPosition,
            ChartAccount::TaxPayable(Jurisdiction::new("DE").unwrap()),
            ChartAccount::LoansReceivable(LoanId::from_uuid(Uuid::from_u128(9))),
            ChartAccount::LoanFeesUnearned(LoanId::from_uuid(Uuid::from_u128(9))),
            ChartAccount::Rounding,
            ChartAccount::CapturedUnfulfilled,
        ]
    }

    #[test]
    fn every_account_has_a_valid_code_and_owner() {
        for account in every_kind() {
            let new = account.new_account(Currency::EUR).unwrap();
            assert_eq!(new.code.as_str(), account.code());
            assert_eq!(new.owner.as_str(), account.owner());
        }
    }

    #[test]
    fn ids_are_stable_and_distinct_per_account_owner_and_currency() {
        let mut ids = std::collections::HashSet::new();
        for account in every_kind() {
            for currency in [Currency::EUR, Currency::JPY, Currency::KWD] {
                assert_eq!(account.id(currency), account.id(currency));
                assert!(ids.insert(account.id(currency)), "{account:?} {currency}");
            }
        }
        assert_ne!(
            ChartAccount::SellerPending(seller(1)).id(Currency::EUR),
            ChartAccount::SellerPending(seller(2)).id(Currency::EUR)
        );
    }

    #[test]
    fn normal_sides_follow_the_chart() {
        assert_eq!(ChartAccount::Bank.normal_side(), Side::Debit);
        assert_eq!(
            ChartAccount::SellerAvailable(seller(1)).normal_side(),
            Side::Credit
        );
        assert_eq!(
            ChartAccount::Revenue(Revenue::Commission).normal_side(),
            Side::Credit
        );
        assert_eq!(
            ChartAccount::Expense(Expense::PspFees).normal_side(),
            Side::Debit
        );
    }

    #[test]
    fn names_are_validated() {
        assert!(ProviderName::new("adyen_eu").is_ok());
        assert_eq!(ProviderName::new("Adyen"), Err(InvalidName));
        assert_eq!(ProviderName::new(""), Err(InvalidName));
        assert!(Jurisdiction::new("US-CA").is_ok());
        assert_eq!(Jurisdiction::new("de"), Err(InvalidName));
        assert_eq!(Jurisdiction::new("D"), Err(InvalidName));
    }
}
