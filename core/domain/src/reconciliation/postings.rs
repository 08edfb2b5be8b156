//! What the bank or a provider knows and the ledger lacks, posted once a match shows it: a
//! provider's fee the settlement did not carry, a bank's charge, a difference from a
//! conversion. Each posting moves the difference between `bank` and the account its reason
//! names, with an id derived from the match, so posting it again changes nothing.

use bazaar_ledger::{Metadata, TransferId, TransferRequest};
use bazaar_money::{Money, MoneyError};
use uuid::Uuid;

use super::Match;
use crate::chart::{ChartAccount, Expense};
use crate::postings::{Leg, Posting};

/// The namespace of reconciliation postings' transfer ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c1e_9a57_4b0e_8d2c_52a4_1f0b_7e31);

/// Why the bank's amount differs from the ledger's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DifferenceReason {
    /// A payment provider kept a fee its settlement did not show.
    ProviderFee,
    /// The bank charged for the transfer.
    BankCharge,
    /// A conversion on the way gave a different amount.
    FxDifference,
}

impl DifferenceReason {
    /// Its name, in the transfer's metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderFee => "provider_fee",
            Self::BankCharge => "bank_charge",
            Self::FxDifference => "fx_difference",
        }
    }

    /// The account the difference goes to or comes from.
    pub fn account(self) -> ChartAccount {
        match self {
            Self::ProviderFee => ChartAccount::Expense(Expense::PspFees),
            Self::BankCharge => ChartAccount::Expense(Expense::BankCharges),
            Self::FxDifference => ChartAccount::FxPosition,
        }
    }
}

/// The id of a match's posting: the same match (rule and records) always names it.
pub fn difference_transfer_id(found: &Match) -> TransferId {
    let mut name = format!("reconciliation:{}", found.rule);
    for id in found.external.iter().chain(&found.internal) {
        name.push(':');
        name.push_str(id);
    }
    TransferId::from_uuid(Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

/// The posting that books a match's difference to `bank` (outside less inside: less money in
/// the bank than the ledger says is a cost, more is a gain); `None` for an exact match.
pub fn difference_posting(
    found: &Match,
    reason: DifferenceReason,
) -> Result<Option<Posting>, MoneyError> {
    if !found.difference.is_positive() && !found.difference.is_negative() {
        return Ok(None);
    }
    let amount: Money = if found.difference.is_negative() {
        found.difference.checked_neg()?
    } else {
        found.difference
    };
    let (debit, credit) = if found.difference.is_negative() {
        (reason.account(), ChartAccount::Bank)
    } else {
        (ChartAccount::Bank, reason.account())
    };
    let leg = Leg {
        name: "reconciliation",
        debit,
        credit,
        amount,
    };
    let mut metadata = Metadata::new();
    metadata.insert("kind".into(), "reconciliation".into());
    metadata.insert("reason".into(), reason.as_str().into());
    metadata.insert("rule".into(), found.rule.clone());
    metadata.insert("external".into(), found.external.join(" "));
    metadata.insert("internal".into(), found.internal.join(" "));
    let mut posting = Posting::default();
    posting.add(
        &leg,
        TransferRequest {
            id: difference_transfer_id(found),
            kind: leg.direct(),
            metadata,
        },
    );
    Ok(Some(posting))
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::RequestKind;
    use bazaar_money::Currency;

    use super::*;

    fn found(difference: i64) -> Match {
        Match {
            rule: "fees".to_owned(),
            external: vec!["b1".to_owned()],
            internal: vec!["t1".to_owned()],
            difference: Money::from_minor(difference, Currency::EUR),
        }
    }

    #[test]
    fn less_in_the_bank_is_a_cost_more_is_a_gain_and_exact_is_nothing() {
        let fee = difference_posting(&found(-12), DifferenceReason::ProviderFee)
            .unwrap()
            .unwrap();
        let [request] = fee.requests.as_slice() else {
            panic!("one transfer");
        };
        assert_eq!(
            request.kind,
            RequestKind::Direct {
                debit_account_id: ChartAccount::Expense(Expense::PspFees).id(Currency::EUR),
                credit_account_id: ChartAccount::Bank.id(Currency::EUR),
                amount: Money::from_minor(12, Currency::EUR),
            }
        );
        assert_eq!(request.metadata["reason"], "provider_fee");
        let gain = difference_posting(&found(30), DifferenceReason::FxDifference)
            .unwrap()
            .unwrap();
        assert_eq!(
            gain.requests[0].kind,
            RequestKind::Direct {
                debit_account_id: ChartAccount::Bank.id(Currency::EUR),
                credit_account_id: ChartAccount::FxPosition.id(Currency::EUR),
                amount: Money::from_minor(30, Currency::EUR),
            }
        );
        assert_eq!(
            difference_posting(&found(0), DifferenceReason::BankCharge).unwrap(),
            None
        );
    }

    #[test]
    fn the_same_match_names_the_same_transfer() {
        assert_eq!(
            difference_transfer_id(&found(-12)),
            difference_transfer_id(&found(-12))
        );
        let mut other = found(-12);
        other.internal = vec!["t2".to_owned()];
        assert_ne!(
            difference_transfer_id(&found(-12)),
            difference_transfer_id(&other)
        );
    }
}
