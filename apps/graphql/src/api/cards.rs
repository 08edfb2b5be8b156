//! Cards through the card vault: a buyer's card becomes a token the API keeps; only the
//! payment provider's connector turns it back into a number, inside the vault's scope.

use async_graphql::{Context, Object, Result, SimpleObject};
use bazaar_domain::catalog::BuyerId;
use bazaar_domain::payments::{CardNumber, MethodDetails};
use bazaar_domain::vault::{CardData, CardDisplay, CardToken, CardVault, Tenant, VaultError};

use super::mutation::CardInput;
use super::{app, buyer, error};
use crate::state::App;

/// Maps a vault error to its client form; causes are logged here.
fn vault_error(e: VaultError) -> async_graphql::Error {
    match e {
        VaultError::InvalidInput(_) => error("payment_request_invalid", e.to_string()),
        VaultError::NotFound => error("payment_request_invalid", "unknown card token"),
        other => {
            tracing::warn!(code = other.code(), error = %other, "the card vault did not serve");
            error(
                "vault_unavailable",
                "the card vault is unavailable; try again shortly",
            )
        }
    }
}

fn tenant(buyer: BuyerId) -> Result<Tenant> {
    Tenant::new(&format!("buyer:{buyer}")).map_err(|_| error("internal_error", "internal error"))
}

fn card_data(card: &CardInput) -> Result<CardData> {
    let number = CardNumber::new(&card.number).map_err(|e| error(e.code(), e.to_string()))?;
    let month = u8::try_from(card.expiry_month)
        .map_err(|_| error("payment_request_invalid", "expiry month must be 1 to 12"))?;
    let year = u16::try_from(card.expiry_year)
        .map_err(|_| error("payment_request_invalid", "expiry year is out of range"))?;
    CardData::new(number, month, year).map_err(|e| error("payment_request_invalid", e.to_string()))
}

/// A card held by the vault, as its owner may see it.
#[derive(SimpleObject)]
pub struct VaultedCardNode {
    /// Pay with it as `cardToken`; it says nothing about the card.
    token: String,
    /// `visa`, `mastercard`, `amex`, ...
    brand: String,
    /// The first eight digits of a number of 16 digits or more, else six.
    bin: String,
    last4: String,
    expiry_month: i32,
    expiry_year: i32,
}

impl VaultedCardNode {
    fn of(token: &CardToken, display: &CardDisplay) -> Self {
        Self {
            token: token.as_str().to_owned(),
            brand: display.brand.as_str().to_owned(),
            bin: display.bin.clone(),
            last4: display.last4.clone(),
            expiry_month: i32::from(display.expiry_month),
            expiry_year: i32::from(display.expiry_year),
        }
    }
}

fn vault(app: &App) -> Result<&dyn CardVault> {
    match &app.vault {
        Some(vault) => Ok(vault.as_ref()),
        None => Err(error(
            "vault_unavailable",
            "card tokens need the card vault, which is not configured",
        )),
    }
}

/// What a card payment pays with: the token given (the buyer's own), the card given turned
/// into a token when the vault runs, or the card itself when it does not.
pub(super) async fn card_details(
    app: &App,
    buyer: BuyerId,
    card: Option<&CardInput>,
    token: Option<&str>,
) -> Result<MethodDetails> {
    match (card, token) {
        (_, Some(token)) => {
            let token = CardToken::parse(token.trim())
                .map_err(|_| error("payment_request_invalid", "not a card token"))?;
            vault(app)?
                .display(&tenant(buyer)?, &token)
                .await
                .map_err(vault_error)?;
            Ok(MethodDetails::CardToken { token })
        }
        (Some(card), None) => {
            let data = card_data(card)?;
            match &app.vault {
                Some(vault) => {
                    let vaulted = vault
                        .tokenize(&tenant(buyer)?, &data)
                        .await
                        .map_err(vault_error)?;
                    Ok(MethodDetails::CardToken {
                        token: vaulted.token,
                    })
                }
                None => Ok(MethodDetails::Card {
                    number: data.number,
                    expiry_month: data.expiry_month,
                    expiry_year: data.expiry_year,
                }),
            }
        }
        (None, None) => Err(error(
            "payment_request_invalid",
            "card payments need card details or a card token",
        )),
    }
}

/// Cards in the vault.
#[derive(Default)]
pub struct CardMutation;

#[Object]
impl CardMutation {
    /// Puts the signed-in buyer's card in the card vault; answers its token (the same token
    /// for the same number) and what may be shown of it. Pay with `cardToken`.
    async fn tokenize_card(&self, ctx: &Context<'_>, card: CardInput) -> Result<VaultedCardNode> {
        let buyer = buyer(ctx)?;
        let app = app(ctx)?;
        let data = card_data(&card)?;
        let vaulted = vault(app)?
            .tokenize(&tenant(buyer)?, &data)
            .await
            .map_err(vault_error)?;
        Ok(VaultedCardNode::of(&vaulted.token, &vaulted.display))
    }
}
