//! A journal row's body: a group's batches of transfer requests in a compact binary form,
//! about a quarter of their JSON, so that a row is cheap to write and to log ahead.
//!
//! Layout, little-endian: a version byte (1); the number of batches (u32); per batch, its
//! number of requests (u32); per request, its id (16 bytes), a kind byte, the kind's fields
//! (ids as 16 bytes, amounts as i64 with their currency's three ASCII letters, a timeout as
//! u32) and its metadata as a JSON object preceded by its length (u32, zero for none).

use bazaar_ledger::{
    AccountId, Metadata, Money, RequestKind, StoreError, TransferId, TransferRequest,
};
use serde_json::Value;
use uuid::Uuid;

use super::{corrupt, currency, metadata_from_json, metadata_to_json};

const VERSION: u8 = 1;

const DIRECT: u8 = 0;
const PENDING: u8 = 1;
const POST_PENDING: u8 = 2;
const VOID_PENDING: u8 = 3;
const REVERSE: u8 = 4;

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_money(out: &mut Vec<u8>, amount: &Money) {
    out.extend_from_slice(&amount.minor().to_le_bytes());
    out.extend_from_slice(amount.currency().code().as_bytes());
}

/// Encodes a group's batches.
pub(crate) fn encode(batches: &[&[TransferRequest]]) -> Vec<u8> {
    let legs: usize = batches.iter().map(|batch| batch.len()).sum();
    let mut out = Vec::with_capacity(
        batches
            .len()
            .saturating_mul(4)
            .saturating_add(legs.saturating_mul(64))
            .saturating_add(5),
    );
    out.push(VERSION);
    put_len(&mut out, batches.len());
    for batch in batches {
        put_len(&mut out, batch.len());
        for request in *batch {
            out.extend_from_slice(request.id.as_uuid().as_bytes());
            match &request.kind {
                RequestKind::Direct {
                    debit_account_id,
                    credit_account_id,
                    amount,
                } => {
                    out.push(DIRECT);
                    out.extend_from_slice(debit_account_id.as_uuid().as_bytes());
                    out.extend_from_slice(credit_account_id.as_uuid().as_bytes());
                    put_money(&mut out, amount);
                }
                RequestKind::Pending {
                    debit_account_id,
                    credit_account_id,
                    amount,
                    timeout_secs,
                } => {
                    out.push(PENDING);
                    out.extend_from_slice(debit_account_id.as_uuid().as_bytes());
                    out.extend_from_slice(credit_account_id.as_uuid().as_bytes());
                    put_money(&mut out, amount);
                    out.extend_from_slice(&timeout_secs.to_le_bytes());
                }
                RequestKind::PostPending { pending_id, amount } => {
                    out.push(POST_PENDING);
                    out.extend_from_slice(pending_id.as_uuid().as_bytes());
                    put_money(&mut out, amount);
                }
                RequestKind::VoidPending { pending_id } => {
                    out.push(VOID_PENDING);
                    out.extend_from_slice(pending_id.as_uuid().as_bytes());
                }
                RequestKind::Reverse {
                    original_id,
                    amount,
                } => {
                    out.push(REVERSE);
                    out.extend_from_slice(original_id.as_uuid().as_bytes());
                    put_money(&mut out, amount);
                }
            }
            if request.metadata.is_empty() {
                put_len(&mut out, 0);
            } else {
                let json = metadata_to_json(&request.metadata).to_string();
                put_len(&mut out, json.len());
                out.extend_from_slice(json.as_bytes());
            }
        }
    }
    out
}

/// Reads a body back; anything malformed is an internal error, never a guess.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.rest.len() < n {
            return Err(corrupt("journal body cut short"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn len(&mut self) -> Result<usize, StoreError> {
        usize::try_from(u32::from_le_bytes(self.array()?))
            .map_err(|_| corrupt("journal body length"))
    }

    fn uuid(&mut self) -> Result<Uuid, StoreError> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn money(&mut self) -> Result<Money, StoreError> {
        let minor = i64::from_le_bytes(self.array()?);
        let code = self.array::<3>()?;
        let code = std::str::from_utf8(&code).map_err(|_| corrupt("journal body currency"))?;
        Ok(Money::from_minor(minor, currency(code)?))
    }

    fn metadata(&mut self) -> Result<Metadata, StoreError> {
        let len = self.len()?;
        if len == 0 {
            return Ok(Metadata::new());
        }
        let value: Value = serde_json::from_slice(self.take(len)?)
            .map_err(|_| corrupt("journal body metadata"))?;
        metadata_from_json(&value)
    }

    fn request(&mut self) -> Result<TransferRequest, StoreError> {
        let id = TransferId::from_uuid(self.uuid()?);
        let kind = match self.byte()? {
            DIRECT => RequestKind::Direct {
                debit_account_id: AccountId::from_uuid(self.uuid()?),
                credit_account_id: AccountId::from_uuid(self.uuid()?),
                amount: self.money()?,
            },
            PENDING => RequestKind::Pending {
                debit_account_id: AccountId::from_uuid(self.uuid()?),
                credit_account_id: AccountId::from_uuid(self.uuid()?),
                amount: self.money()?,
                timeout_secs: u32::from_le_bytes(self.array()?),
            },
            POST_PENDING => RequestKind::PostPending {
                pending_id: TransferId::from_uuid(self.uuid()?),
                amount: self.money()?,
            },
            VOID_PENDING => RequestKind::VoidPending {
                pending_id: TransferId::from_uuid(self.uuid()?),
            },
            REVERSE => RequestKind::Reverse {
                original_id: TransferId::from_uuid(self.uuid()?),
                amount: self.money()?,
            },
            other => return Err(corrupt(format!("journal body request kind {other}"))),
        };
        Ok(TransferRequest {
            id,
            kind,
            metadata: self.metadata()?,
        })
    }
}

/// Decodes a body that [`encode`] wrote.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<Vec<TransferRequest>>, StoreError> {
    let mut reader = Reader { rest: body };
    let version = reader.byte()?;
    if version != VERSION {
        return Err(corrupt(format!("journal body version {version}")));
    }
    let batches = reader.len()?;
    // Every batch takes at least four bytes, so a count past that is a lie.
    if batches > reader.rest.len() / 4 {
        return Err(corrupt("journal body batch count"));
    }
    let mut out = Vec::with_capacity(batches);
    for _ in 0..batches {
        let requests = reader.len()?;
        if requests > reader.rest.len() / 20 {
            return Err(corrupt("journal body request count"));
        }
        let batch = (0..requests)
            .map(|_| reader.request())
            .collect::<Result<Vec<_>, _>>()?;
        out.push(batch);
    }
    if !reader.rest.is_empty() {
        return Err(corrupt("journal body has bytes left over"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bazaar_ledger::Currency;

    use super::*;

    fn request(id: u128, kind: RequestKind, noted: bool) -> TransferRequest {
        let mut metadata = Metadata::new();
        if noted {
            metadata.insert("order".to_owned(), format!("ord_{id}"));
        }
        TransferRequest {
            id: TransferId::from_u128(id),
            kind,
            metadata,
        }
    }

    fn every_kind() -> Vec<Vec<TransferRequest>> {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        let jpy = Money::from_minor(-7, Currency::JPY);
        let a = AccountId::from_u128(10);
        let b = AccountId::from_u128(u128::MAX);
        vec![
            vec![
                request(
                    1,
                    RequestKind::Direct {
                        debit_account_id: a,
                        credit_account_id: b,
                        amount: eur(i64::MAX),
                    },
                    true,
                ),
                request(
                    2,
                    RequestKind::Pending {
                        debit_account_id: b,
                        credit_account_id: a,
                        amount: jpy,
                        timeout_secs: u32::MAX,
                    },
                    false,
                ),
            ],
            vec![],
            vec![
                request(
                    3,
                    RequestKind::PostPending {
                        pending_id: TransferId::from_u128(2),
                        amount: eur(5),
                    },
                    true,
                ),
                request(
                    4,
                    RequestKind::VoidPending {
                        pending_id: TransferId::from_u128(2),
                    },
                    false,
                ),
                request(
                    5,
                    RequestKind::Reverse {
                        original_id: TransferId::from_u128(1),
                        amount: eur(1),
                    },
                    true,
                ),
            ],
        ]
    }

    #[test]
    fn every_request_kind_survives_the_body() {
        let batches = every_kind();
        let slices: Vec<&[TransferRequest]> = batches.iter().map(Vec::as_slice).collect();
        let body = encode(&slices);
        assert_eq!(decode(&body).unwrap(), batches);
    }

    #[test]
    fn a_malformed_body_is_an_internal_error() {
        let batches = every_kind();
        let slices: Vec<&[TransferRequest]> = batches.iter().map(Vec::as_slice).collect();
        let body = encode(&slices);
        // Every cut of the body, a changed version, a bad kind and bytes left over.
        for cut in 0..body.len() {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut versioned = body.clone();
        versioned[0] = 9;
        assert!(decode(&versioned).is_err());
        let mut kind = body.clone();
        kind[1 + 4 + 4 + 16] = 200;
        assert!(decode(&kind).is_err());
        let mut longer = body;
        longer.push(0);
        assert!(decode(&longer).is_err());
        // A count that claims more than the body could hold.
        assert!(decode(&[1, 255, 255, 255, 255]).is_err());
    }
}
