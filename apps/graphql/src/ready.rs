//! Readiness: the database answers on a pooled connection and has every migration this
//! build knows. The answer is reused for a second, so a flood of `/readyz` requests costs at
//! most one check a second and never opens a connection of its own.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::state::App;

/// How long an answer is reused.
const ANSWER_TTL: Duration = Duration::from_secs(1);

/// How long a check waits for a pooled connection before answering not ready.
const CONNECTION_WAIT: Duration = Duration::from_secs(2);

/// Why the server is not ready, in the words `/readyz` uses.
pub type NotReady = &'static str;

/// The last answer and when it was found.
#[derive(Debug, Default)]
pub struct ReadyCache {
    last: Mutex<Option<(Instant, Result<(), NotReady>)>>,
}

impl ReadyCache {
    /// The answer of a check at most [`ANSWER_TTL`] old, checking again if there is none.
    /// Requests that arrive while a check runs wait for its answer instead of checking too.
    pub async fn answer(&self, app: &App) -> Result<(), NotReady> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = *last
            && at.elapsed() < ANSWER_TTL
        {
            return answer;
        }
        let answer = check(app).await;
        *last = Some((Instant::now(), answer));
        answer
    }
}

async fn check(app: &App) -> Result<(), NotReady> {
    let probe = app
        .market
        .store()
        .probe(CONNECTION_WAIT, bazaar_schema::migrations_are_current)
        .await;
    match probe {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err("migrations pending"),
        Ok(Err(_)) => Err("cannot read the migrations table"),
        Err(_) => Err("database unreachable"),
    }
}
