//! Lending through the API: a seller asks for the offer its sales earn, accepts it and reads
//! its loans; finance reads the portfolio.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::lending::{LendingError, Loan, LoanId, OfferId, PortfolioLine, StoredOffer};

use super::types::MoneyNode;
use super::{app, error, finance, seller, uuid};

/// Maps a lending error to its client form; causes are logged here.
fn lending(e: LendingError) -> async_graphql::Error {
    if matches!(e.code(), "unavailable" | "internal") {
        tracing::warn!(code = e.code(), %e, "a lending call failed in a backing service");
    }
    error(e.code(), e.to_string())
}

fn today(app: &crate::state::App) -> Result<Date> {
    Date::of_instant(app.now()).ok_or_else(|| error("internal_error", "internal error"))
}

/// What a seller's sales earn.
#[derive(SimpleObject)]
pub struct LoanOfferNode {
    id: ID,
    /// Paid out on acceptance.
    advance: MoneyNode,
    /// The one flat fee.
    fee: MoneyNode,
    /// The share of each settled sale withheld, e.g. `12.5%`.
    withhold_rate: String,
    /// What each 60-day interval must repay, at least.
    minimum: MoneyNode,
    /// `a`, `b` or `c`.
    tier: String,
    /// The last day it can be accepted (`YYYY-MM-DD`).
    expires_on: String,
    /// Whether a loan accepted it.
    accepted: bool,
}

impl From<StoredOffer> for LoanOfferNode {
    fn from(stored: StoredOffer) -> Self {
        let offer = stored.offer;
        Self {
            id: ID(stored.id.to_string()),
            advance: offer.advance.into(),
            fee: offer.fee.into(),
            withhold_rate: bazaar_domain::tax::TaxRate::from_basis_points(offer.withhold_rate)
                .percent_text(),
            minimum: offer.minimum.into(),
            tier: offer.tier.as_str().to_owned(),
            expires_on: offer.expires_on.to_string(),
            accepted: stored.loan.is_some(),
        }
    }
}

/// A loan, as its seller reads it.
#[derive(SimpleObject)]
pub struct LoanNode {
    id: ID,
    /// `active`, `past_due`, `charged_off` or `paid_off`.
    state: String,
    advance: MoneyNode,
    fee: MoneyNode,
    paid: MoneyNode,
    remaining: MoneyNode,
    /// The current 60-day interval: its minimum, what it repaid, and when it is due.
    minimum: MoneyNode,
    interval_paid: MoneyNode,
    due_on: Option<String>,
    /// Minimums missed and not yet made up.
    arrears: MoneyNode,
}

impl LoanNode {
    fn of(loan: &Loan) -> Result<Self> {
        let amount = |e| error("internal_error", format!("{e}"));
        Ok(Self {
            id: ID(loan.id.to_string()),
            state: loan.state.as_str().to_owned(),
            advance: loan.advance.into(),
            fee: loan.fee.into(),
            paid: loan.paid().map_err(amount)?.into(),
            remaining: loan.remaining().map_err(amount)?.into(),
            minimum: loan.minimum.into(),
            interval_paid: loan.interval_paid.into(),
            due_on: loan.due_on().map(|d| d.to_string()),
            arrears: loan.arrears.into(),
        })
    }
}

/// One currency of the loan portfolio.
#[derive(SimpleObject)]
pub struct PortfolioLineNode {
    currency: String,
    open_loans: i64,
    outstanding: MoneyNode,
    current: MoneyNode,
    /// Past due 1 to 30 days, 31 to 60, 61 or more.
    past_due: Vec<MoneyNode>,
    charged_off: MoneyNode,
    fee_income: MoneyNode,
}

impl From<PortfolioLine> for PortfolioLineNode {
    fn from(line: PortfolioLine) -> Self {
        Self {
            currency: line.currency.code().to_owned(),
            open_loans: i64::try_from(line.open_loans).unwrap_or(i64::MAX),
            outstanding: line.outstanding.into(),
            current: line.current.into(),
            past_due: line.past_due.into_iter().map(Into::into).collect(),
            charged_off: line.charged_off.into(),
            fee_income: line.fee_income.into(),
        }
    }
}

#[derive(Default)]
pub struct LendingQuery;

#[Object]
impl LendingQuery {
    /// The signed-in seller's loans, newest first.
    async fn loans(&self, ctx: &Context<'_>) -> Result<Vec<LoanNode>> {
        let seller = seller(ctx)?;
        let app = app(ctx)?;
        let loans = app
            .lending
            .loans(seller, today(app)?)
            .await
            .map_err(lending)?;
        loans.iter().map(LoanNode::of).collect()
    }

    /// The loan portfolio per currency, today. Finance only.
    async fn loan_portfolio(&self, ctx: &Context<'_>) -> Result<Vec<PortfolioLineNode>> {
        finance(ctx)?;
        let app = app(ctx)?;
        let lines = app.lending.portfolio(today(app)?).await.map_err(lending)?;
        Ok(lines.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct LendingMutation;

#[Object]
impl LendingMutation {
    /// The offer the signed-in seller's settled sales earn today in its settlement
    /// currency: the same one all day.
    async fn request_loan_offer(&self, ctx: &Context<'_>) -> Result<LoanOfferNode> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let currency = app
            .market
            .seller(seller_id)
            .await
            .map_err(super::commerce)?
            .ok_or_else(|| error("not_found", "seller not found"))?
            .settlement_currency;
        let offered = app
            .lending
            .offer(seller_id, currency, today(app)?, app.now())
            .await
            .map_err(lending)?;
        Ok(offered.into())
    }

    /// Accepts one of the signed-in seller's offers: the advance is added to its available
    /// balance and paid out with its next payout. Accepting again returns the same loan.
    async fn accept_loan_offer(&self, ctx: &Context<'_>, offer_id: ID) -> Result<LoanNode> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let id = OfferId::from_uuid(uuid(&offer_id, "offer id")?);
        let accepted = app
            .lending
            .accept(seller_id, id, today(app)?, app.now())
            .await;
        let resource = ("loan_offer", id.to_string());
        let who = super::audit_who(ctx);
        crate::audit_trail::after(app, who, "loan.accept", resource, &accepted).await;
        let loan = accepted.map_err(lending)?;
        tracing::info!(seller = %seller_id, loan = %loan.id, advance_minor = loan.advance.minor(), "loan accepted");
        LoanNode::of(&loan)
    }

    /// Repays one of the signed-in seller's loans in full from its available balance, with
    /// no penalty. Refused with `insufficient_balance` when the balance does not cover what
    /// remains, `loan_closed` when it is paid off or charged off.
    async fn repay_loan(&self, ctx: &Context<'_>, loan_id: ID) -> Result<LoanNode> {
        let seller_id = seller(ctx)?;
        let app = app(ctx)?;
        let id = LoanId::from_uuid(uuid(&loan_id, "loan id")?);
        let repaid = app
            .lending
            .repay(seller_id, id, today(app)?, app.now())
            .await;
        let who = super::audit_who(ctx);
        crate::audit_trail::after(app, who, "loan.repay", ("loan", id.to_string()), &repaid).await;
        let loan = repaid.map_err(lending)?;
        tracing::info!(seller = %seller_id, loan = %loan.id, "loan repaid in full");
        LoanNode::of(&loan)
    }
}
