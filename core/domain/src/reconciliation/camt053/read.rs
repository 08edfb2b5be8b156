//! Reading a statement from the document's tree: every element the statements need, each
//! amount in the statement's currency and signed, each entry's parts checked against it.

use bazaar_money::{Currency, Money, MoneyError};

use super::tree::Element;
use super::{
    BalanceType, BankEntry, BankStatement, CamtError, CamtVersion, EntryBatch, EntryPart,
    EntryStatus, StatementBalance, fragment,
};
use crate::fx::calendar::Date;

pub(super) fn malformed(reason: impl Into<String>) -> CamtError {
    CamtError::Malformed {
        reason: reason.into(),
    }
}

/// The statement being read: its id (for messages) and currency.
struct Context {
    statement: String,
    currency: Currency,
}

impl Context {
    fn missing(&self, place: &str, path: &[&str]) -> CamtError {
        malformed(format!(
            "statement {}: {place} has no {}",
            self.statement,
            path.join("/")
        ))
    }

    fn invalid(&self, place: &str, what: &str) -> CamtError {
        malformed(format!("statement {}: {place}: {what}", self.statement))
    }

    fn required<'a>(
        &self,
        element: &'a Element,
        place: &str,
        path: &[&str],
    ) -> Result<&'a str, CamtError> {
        element
            .text_at(path)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| self.missing(place, path))
    }

    fn money_error(&self, reason: MoneyError) -> CamtError {
        CamtError::AmountInvalid {
            statement: self.statement.clone(),
            reason,
        }
    }

    /// An amount element (`<Amt Ccy="EUR">12.50</Amt>`), unsigned as written.
    fn amount(&self, element: &Element, place: &str) -> Result<Money, CamtError> {
        let code = element
            .attribute("Ccy")
            .ok_or_else(|| self.invalid(place, "an amount without a Ccy"))?;
        let currency = Currency::from_code(code).map_err(|reason| self.money_error(reason))?;
        if currency != self.currency {
            return Err(CamtError::CurrencyMismatch {
                statement: self.statement.clone(),
                expected: self.currency,
                found: currency,
            });
        }
        if element.text.starts_with('-') {
            return Err(self.invalid(place, "an amount written with a sign"));
        }
        Money::parse(&element.text, currency).map_err(|reason| self.money_error(reason))
    }

    /// An amount signed by a credit/debit indicator (`CRDT` positive, `DBIT` negative), and
    /// flipped when `reversal`.
    fn signed(
        &self,
        amount: Money,
        indicator: &str,
        reversal: bool,
        place: &str,
    ) -> Result<Money, CamtError> {
        let debit = match indicator {
            "CRDT" => false,
            "DBIT" => true,
            _ => return Err(self.invalid(place, "CdtDbtInd is neither CRDT nor DBIT")),
        };
        if debit == reversal {
            Ok(amount)
        } else {
            amount
                .checked_neg()
                .map_err(|reason| self.money_error(reason))
        }
    }

    /// A `Dt` or `DtTm` choice; a date-time keeps its date.
    fn date(&self, element: &Element, place: &str) -> Result<Date, CamtError> {
        let text = element
            .text_at(&["Dt"])
            .or_else(|| element.text_at(&["DtTm"]))
            .ok_or_else(|| self.missing(place, &["Dt"]))?;
        let day = text.split_once('T').map_or(text, |(day, _)| day);
        Date::parse_iso(day).ok_or_else(|| self.invalid(place, "not a valid date"))
    }

    fn optional_date(&self, element: &Element, name: &str) -> Result<Option<Date>, CamtError> {
        element
            .child(name)
            .map(|date| self.date(date, name))
            .transpose()
    }
}

/// An `xs:boolean`.
fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn owned(text: Option<&str>) -> Option<String> {
    text.filter(|text| !text.is_empty()).map(str::to_owned)
}

/// The statement's pagination: its own `StmtPgntn`, else the message's `GrpHdr/MsgPgntn`.
fn pagination(
    statement: &Element,
    message: &Element,
    context: &Context,
) -> Result<(Option<u32>, Option<bool>), CamtError> {
    let Some(element) = statement
        .child("StmtPgntn")
        .or_else(|| message.at(&["GrpHdr", "MsgPgntn"]))
    else {
        return Ok((None, None));
    };
    let page = context
        .required(element, "the pagination", &["PgNb"])?
        .parse::<u32>()
        .map_err(|_| context.invalid("the pagination", "PgNb is not a page number"))?;
    let last = boolean(context.required(element, "the pagination", &["LastPgInd"])?)
        .ok_or_else(|| context.invalid("the pagination", "LastPgInd is not true or false"))?;
    Ok((Some(page), Some(last)))
}

/// The statement's currency: the account's `Ccy`, else that of its first balance or entry.
fn statement_currency(statement: &Element, id: &str) -> Result<Currency, CamtError> {
    let code = statement
        .text_at(&["Acct", "Ccy"])
        .or_else(|| statement.at(&["Bal", "Amt"])?.attribute("Ccy"))
        .or_else(|| statement.at(&["Ntry", "Amt"])?.attribute("Ccy"))
        .ok_or_else(|| CamtError::MissingBalance {
            statement: id.to_owned(),
            balance: "opening",
        })?;
    Currency::from_code(code).map_err(|reason| CamtError::AmountInvalid {
        statement: id.to_owned(),
        reason,
    })
}

pub(super) fn read_statement(
    statement: &Element,
    message: &Element,
    version: CamtVersion,
) -> Result<BankStatement, CamtError> {
    let id = statement
        .text_at(&["Id"])
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed("a Stmt has no Id"))?;
    let shown = fragment(id, 35);
    let context = Context {
        currency: statement_currency(statement, &shown)?,
        statement: shown,
    };
    let sequence = statement
        .text_at(&["ElctrncSeqNb"])
        .map(|text| {
            text.parse::<u64>()
                .map_err(|_| context.invalid("ElctrncSeqNb", "not a whole number"))
        })
        .transpose()?;
    let account = statement
        .text_at(&["Acct", "Id", "IBAN"])
        .or_else(|| statement.text_at(&["Acct", "Id", "Othr", "Id"]))
        .filter(|account| !account.is_empty())
        .ok_or_else(|| context.missing("the statement", &["Acct", "Id", "IBAN"]))?;
    let (page, last_page) = pagination(statement, message, &context)?;
    let balances = statement
        .all("Bal")
        .map(|balance| read_balance(balance, &context))
        .collect::<Result<Vec<_>, _>>()?;
    let entries = statement
        .all("Ntry")
        .enumerate()
        .map(|(index, entry)| read_entry(entry, &context, index.saturating_add(1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BankStatement {
        version,
        id: id.to_owned(),
        sequence,
        created_at: context
            .required(statement, "the statement", &["CreDtTm"])?
            .to_owned(),
        account: account.to_owned(),
        currency: context.currency,
        page,
        last_page,
        balances,
        entries,
    })
}

fn read_balance(balance: &Element, context: &Context) -> Result<StatementBalance, CamtError> {
    let place = "a Bal";
    let code = balance
        .text_at(&["Tp", "CdOrPrtry", "Cd"])
        .or_else(|| balance.text_at(&["Tp", "CdOrPrtry", "Prtry"]))
        .filter(|code| !code.is_empty())
        .ok_or_else(|| context.missing(place, &["Tp", "CdOrPrtry", "Cd"]))?;
    let amount = balance
        .child("Amt")
        .ok_or_else(|| context.missing(place, &["Amt"]))?;
    let amount = context.amount(amount, place)?;
    let indicator = context.required(balance, place, &["CdtDbtInd"])?;
    let date = balance
        .child("Dt")
        .ok_or_else(|| context.missing(place, &["Dt"]))?;
    Ok(StatementBalance {
        kind: BalanceType::from_code(code),
        amount: context.signed(amount, indicator, false, place)?,
        date: context.date(date, place)?,
    })
}

/// `Domain/Family/SubFamily`, else the proprietary code.
fn transaction_code(entry: &Element) -> Option<String> {
    let code = entry.child("BkTxCd")?;
    let domain = code.child("Domn").and_then(|domain| {
        Some(format!(
            "{}/{}/{}",
            domain.text_at(&["Cd"])?,
            domain.text_at(&["Fmly", "Cd"])?,
            domain.text_at(&["Fmly", "SubFmlyCd"])?
        ))
    });
    domain.or_else(|| owned(code.text_at(&["Prtry", "Cd"])))
}

fn read_entry(entry: &Element, context: &Context, number: usize) -> Result<BankEntry, CamtError> {
    let place = format!("entry {number}");
    let amount = entry
        .child("Amt")
        .ok_or_else(|| context.missing(&place, &["Amt"]))?;
    let amount = context.amount(amount, &place)?;
    let indicator = context.required(entry, &place, &["CdtDbtInd"])?;
    let reversal = entry
        .text_at(&["RvslInd"])
        .map(|text| {
            boolean(text).ok_or_else(|| context.invalid(&place, "RvslInd is not a boolean"))
        })
        .transpose()?
        .unwrap_or(false);
    let status = entry
        .text_at(&["Sts", "Cd"])
        .or_else(|| entry.text_at(&["Sts"]))
        .filter(|status| !status.is_empty())
        .ok_or_else(|| context.missing(&place, &["Sts"]))?;
    let mut built = BankEntry {
        reference: owned(entry.text_at(&["NtryRef"])),
        amount: context.signed(amount, indicator, reversal, &place)?,
        reversal,
        status: EntryStatus::from_code(status),
        booking_date: context.optional_date(entry, "BookgDt")?,
        value_date: context.optional_date(entry, "ValDt")?,
        servicer_reference: owned(entry.text_at(&["AcctSvcrRef"])),
        transaction_code: transaction_code(entry),
        batches: Vec::new(),
        parts: Vec::new(),
    };
    read_details(entry, context, &mut built, indicator, number)?;
    check_parts(&mut built, context, number)?;
    Ok(built)
}

/// The sum of `amounts`, in the statement's currency.
fn sum(mut amounts: impl Iterator<Item = Money>, context: &Context) -> Result<Money, CamtError> {
    amounts
        .try_fold(Money::zero(context.currency), |sum, amount| {
            sum.checked_add(amount)
        })
        .map_err(|reason| context.money_error(reason))
}

/// Fills in the entry's batches and parts from its `NtryDtls`, checking each batch against
/// its own parts, and the batches' totals against the entry when every `NtryDtls` has one.
fn read_details(
    element: &Element,
    context: &Context,
    entry: &mut BankEntry,
    indicator: &str,
    number: usize,
) -> Result<(), CamtError> {
    let place = format!("entry {number}");
    let mut details_count = 0_usize;
    for details in element.all("NtryDtls") {
        details_count = details_count.saturating_add(1);
        let parts = details
            .all("TxDtls")
            .map(|part| read_part(part, context, indicator, entry.reversal, &place))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(batch) = details.child("Btch") {
            let batch = read_batch(batch, context, indicator, entry.reversal, &place)?;
            check_batch(&batch, &parts, context, number)?;
            entry.batches.push(batch);
        }
        entry.parts.extend(parts);
    }
    let totals: Vec<Money> = entry
        .batches
        .iter()
        .filter_map(|batch| batch.total)
        .collect();
    if details_count > 0 && totals.len() == details_count {
        let found = sum(totals.into_iter(), context)?;
        if found != entry.amount {
            return Err(parts_error(context, number, entry.amount, found));
        }
    }
    Ok(())
}

fn parts_error(context: &Context, entry: usize, expected: Money, found: Money) -> CamtError {
    CamtError::PartsDoNotAddUp {
        statement: context.statement.clone(),
        entry,
        expected,
        found,
    }
}

fn read_batch(
    batch: &Element,
    context: &Context,
    indicator: &str,
    reversal: bool,
    place: &str,
) -> Result<EntryBatch, CamtError> {
    let transactions = batch
        .text_at(&["NbOfTxs"])
        .map(|text| {
            text.parse::<u32>()
                .map_err(|_| context.invalid(place, "NbOfTxs is not a number"))
        })
        .transpose()?;
    let total = batch
        .child("TtlAmt")
        .map(|total| {
            let total = context.amount(total, place)?;
            let indicator = batch.text_at(&["CdtDbtInd"]).unwrap_or(indicator);
            context.signed(total, indicator, reversal, place)
        })
        .transpose()?;
    Ok(EntryBatch {
        transactions,
        total,
    })
}

/// A batch's count and total against the parts given with it (when there are any).
fn check_batch(
    batch: &EntryBatch,
    parts: &[EntryPart],
    context: &Context,
    number: usize,
) -> Result<(), CamtError> {
    if parts.is_empty() {
        return Ok(());
    }
    if let Some(declared) = batch.transactions
        && usize::try_from(declared).ok() != Some(parts.len())
    {
        return Err(CamtError::BatchCountMismatch {
            statement: context.statement.clone(),
            entry: number,
            declared,
            found: parts.len(),
        });
    }
    let amounts: Option<Vec<Money>> = parts.iter().map(|part| part.amount).collect();
    if let (Some(total), Some(amounts)) = (batch.total, amounts) {
        let found = sum(amounts.into_iter(), context)?;
        if found != total {
            return Err(parts_error(context, number, total, found));
        }
    }
    Ok(())
}

fn read_part(
    part: &Element,
    context: &Context,
    indicator: &str,
    reversal: bool,
    place: &str,
) -> Result<EntryPart, CamtError> {
    let amount = part
        .child("Amt")
        .or_else(|| part.at(&["AmtDtls", "TxAmt", "Amt"]))
        .map(|amount| {
            let amount = context.amount(amount, place)?;
            let indicator = part.text_at(&["CdtDbtInd"]).unwrap_or(indicator);
            context.signed(amount, indicator, reversal, place)
        })
        .transpose()?;
    let information = part.child("RmtInf");
    let lines: Vec<&str> = information
        .into_iter()
        .flat_map(|information| information.all("Ustrd"))
        .map(|line| line.text.as_str())
        .filter(|line| !line.is_empty())
        .collect();
    Ok(EntryPart {
        end_to_end_id: owned(part.text_at(&["Refs", "EndToEndId"])),
        servicer_reference: owned(part.text_at(&["Refs", "AcctSvcrRef"])),
        amount,
        remittance: (!lines.is_empty()).then(|| lines.join(" ")),
        creditor_reference: information.and_then(|information| {
            information
                .all("Strd")
                .find_map(|structured| owned(structured.text_at(&["CdtrRefInf", "Ref"])))
        }),
    })
}

/// An entry's parts against the entry: a lone part without an amount takes the entry's;
/// otherwise, when any part has an amount, all must, and they must add up to the entry.
fn check_parts(entry: &mut BankEntry, context: &Context, number: usize) -> Result<(), CamtError> {
    let amount = entry.amount;
    match entry.parts.as_mut_slice() {
        [] => Ok(()),
        [only] if only.amount.is_none() => {
            only.amount = Some(amount);
            Ok(())
        }
        parts if parts.iter().all(|part| part.amount.is_none()) => Ok(()),
        parts => {
            let found = sum(parts.iter().filter_map(|part| part.amount), context)?;
            if found == amount && parts.iter().all(|part| part.amount.is_some()) {
                Ok(())
            } else {
                Err(parts_error(context, number, amount, found))
            }
        }
    }
}
