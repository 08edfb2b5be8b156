//! `bazaar-admin`: finance's and operators' commands against the same database and ledger as
//! the server.
//!
//! ```text
//! bazaar-admin reconcile import --kind camt053|settlement|itemized [--provider NAME] FILE
//! bazaar-admin reconcile run --account ACCOUNT --currency CUR --from YYYY-MM-DD --to YYYY-MM-DD [--dry-run] [--book]
//! bazaar-admin reconcile trial-balance [--at YYYY-MM-DD]      (CSV on standard output)
//! bazaar-admin reconcile open-items RUN_ID                     (CSV on standard output)
//! bazaar-admin finance-user EMAIL     (the password: BAZAAR_ADMIN_PASSWORD, else standard input's first line)
//! bazaar-admin compliance-user EMAIL  (the same)
//! bazaar-admin reseal [--batch N]     (webhook secrets and bank details onto the vault's newest keys)
//! ```
//!
//! Staff accounts created here are recorded in the audit log.
//!
//! Long imports draw a progress bar on standard error. Exit status: 0 done, 1 refused or
//! failed (the reason on standard error), 2 a bad command line.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool answers on standard output and standard error"
)]

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::identity::{Email, Identity, IdentityPolicy, NewUser, Role, UserId};
use bazaar_domain::reconciliation::{
    ImportKind, ImportOutcome, Reconciliations, RunId, RunMode, ThreeWayRules, aged_items_csv,
    trial_balance_csv,
};
use bazaar_ledger::Clock;
use bazaar_money::Currency;
use bazaar_postgres::{
    LedgerConfig, PostgresEvents, PostgresIdentity, PostgresLedger, PostgresPayouts,
    PostgresReconciliation, RetryPolicy, SystemClock,
};

use crate::config::Config;
use crate::finance::{end_of_day, parse_day};

const USAGE: &str = "usage:
  bazaar-admin reconcile import --kind camt053|settlement|itemized [--provider NAME] FILE
  bazaar-admin reconcile run --account ACCOUNT --currency CUR --from YYYY-MM-DD --to YYYY-MM-DD [--dry-run] [--book]
  bazaar-admin reconcile trial-balance [--at YYYY-MM-DD]
  bazaar-admin reconcile open-items RUN_ID
  bazaar-admin finance-user EMAIL
  bazaar-admin compliance-user EMAIL
  bazaar-admin reseal [--batch N]";

/// The longest file an import reads: 1 GiB.
const FILE_BYTES_MAX: u64 = 1 << 30;

/// A command line that does not parse, or a command that failed.
enum Failure {
    Usage(String),
    Failed(String),
}

type Outcome = Result<(), Failure>;

fn usage(text: impl Into<String>) -> Failure {
    Failure::Usage(text.into())
}

/// `--name value` pairs and the words that are not options.
struct Args {
    options: Vec<(String, Option<String>)>,
    words: Vec<String>,
}

impl Args {
    fn parse(args: &[String], flags: &[&str]) -> Result<Self, Failure> {
        let mut options = Vec::new();
        let mut words = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.strip_prefix("--") {
                Some(name) if flags.contains(&name) => options.push((name.to_owned(), None)),
                Some(name) => {
                    let value = iter
                        .next()
                        .ok_or_else(|| usage(format!("--{name} needs a value")))?;
                    options.push((name.to_owned(), Some(value.clone())));
                }
                None => words.push(arg.clone()),
            }
        }
        Ok(Self { options, words })
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.value(name)
            .ok_or_else(|| usage(format!("--{name} is required")))
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, v)| n == name && v.is_none())
    }

    fn day(&self, name: &str) -> Result<Option<Date>, Failure> {
        self.value(name)
            .map(|text| {
                parse_day(text).ok_or_else(|| usage(format!("--{name}: dates are YYYY-MM-DD")))
            })
            .transpose()
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line per tenth
/// otherwise.
struct Progress {
    label: &'static str,
    terminal: bool,
    shown: usize,
}

impl Progress {
    fn new(label: &'static str) -> Self {
        Self {
            label,
            terminal: std::io::stderr().is_terminal(),
            shown: usize::MAX,
        }
    }

    fn update(&mut self, done: usize, total: usize) {
        let tenths = done.saturating_mul(10).checked_div(total).unwrap_or(10);
        let width = 30_usize;
        let filled = done
            .saturating_mul(width)
            .checked_div(total)
            .unwrap_or(width);
        let mut err = std::io::stderr();
        if self.terminal {
            let bar = format!(
                "{}{}",
                "#".repeat(filled.min(width)),
                "-".repeat(width.saturating_sub(filled))
            );
            let _ = write!(err, "\r{} [{bar}] {done}/{total}", self.label);
            if done >= total {
                let _ = writeln!(err);
            }
        } else if tenths != self.shown {
            let _ = writeln!(err, "{}: {done}/{total}", self.label);
        }
        self.shown = tenths;
    }
}

type Service = Reconciliations<PostgresReconciliation, PostgresLedger>;

async fn service(config: &Config) -> Result<(Service, PostgresLedger), Failure> {
    let url = config.database_url.clone();
    tokio::task::spawn_blocking(move || crate::setup::prepare_database(&url))
        .await
        .map_err(|_| Failure::Failed("the database setup task failed".to_owned()))?
        .map_err(|e| Failure::Failed(format!("database: {e}")))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ledger = PostgresLedger::connect(LedgerConfig::new(&config.database_url), clock)
        .await
        .map_err(|e| Failure::Failed(format!("ledger: {e}")))?;
    let store = PostgresReconciliation::new(&config.database_url, 4, RetryPolicy::default());
    Ok((Reconciliations::new(store, ledger.clone()), ledger))
}

fn failed(error: bazaar_domain::reconciliation::ReconciliationError) -> Failure {
    Failure::Failed(format!("{}: {error}", error.code()))
}

async fn import(config: &Config, args: &Args) -> Outcome {
    let kind = match args.required("kind")? {
        "camt053" => ImportKind::Camt053,
        "settlement" => ImportKind::SettlementReport,
        "itemized" => ImportKind::ItemizedReport,
        other => {
            return Err(usage(format!(
                "--kind {other}: camt053, settlement or itemized"
            )));
        }
    };
    let provider = args.value("provider").unwrap_or("");
    if kind != ImportKind::Camt053 && bazaar_domain::chart::ProviderName::new(provider).is_err() {
        return Err(usage(
            "--provider NAME ([a-z0-9_]{1,32}) is required for a provider report",
        ));
    }
    let [path] = args.words.as_slice() else {
        return Err(usage("name one FILE"));
    };
    let size = std::fs::metadata(path)
        .map_err(|e| Failure::Failed(format!("{path}: {e}")))?
        .len();
    if size > FILE_BYTES_MAX {
        return Err(Failure::Failed(format!("{path}: larger than 1 GiB")));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::Failed(format!("{path}: {e}")))?;
    let (service, _) = service(config).await?;
    eprintln!("checking {path} ({size} bytes)");
    let mut progress = Progress::new("storing");
    let name = std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
    let now = SystemClock.now();
    let outcome = service
        .import_file(kind, provider, &name, &text, now, &mut |done, total| {
            progress.update(done, total);
        })
        .await
        .map_err(failed)?;
    match outcome {
        ImportOutcome::Imported { entries } => {
            println!("imported {name}: {entries} records stored")
        }
        ImportOutcome::AlreadyImported => println!("{name} was imported before: nothing stored"),
    }
    Ok(())
}

async fn run(config: &Config, args: &Args) -> Outcome {
    let account = args.required("account")?.trim().to_owned();
    let currency = Currency::from_code(args.required("currency")?.trim())
        .map_err(|_| usage("--currency: an ISO 4217 code"))?;
    let from = args
        .day("from")?
        .ok_or_else(|| usage("--from is required"))?;
    let to = args.day("to")?.ok_or_else(|| usage("--to is required"))?;
    if to.days_since_epoch() < from.days_since_epoch() {
        return Err(usage("--to is before --from"));
    }
    let dry_run = args.flag("dry-run");
    let mode = if dry_run {
        RunMode::DryRun
    } else {
        RunMode::Store
    };
    let (service, _) = service(config).await?;
    let outcome = service
        .run(
            &account,
            currency,
            (from, to),
            &ThreeWayRules::default(),
            mode,
            SystemClock.now(),
        )
        .await
        .map_err(failed)?;
    let [matched, differences, outside, inside] = outcome.summary.counts;
    println!(
        "reconcile: run={} currency={} from={from} to={to} matched={matched} amount_differences={differences} unmatched_external={outside} unmatched_internal={inside} to_book={} sha256={}{}",
        outcome.summary.id,
        currency.code(),
        outcome.three_way.to_book.len(),
        outcome.summary.sha256,
        if dry_run {
            " dry_run=true (nothing stored)"
        } else {
            ""
        },
    );
    if args.flag("book") {
        if dry_run {
            println!("--book ignored on a dry run");
        } else {
            let booked = service.book(&outcome.three_way).await.map_err(failed)?;
            println!("booked {booked} postings");
        }
    }
    Ok(())
}

async fn trial_balance(config: &Config, args: &Args) -> Outcome {
    let at = args.day("at")?.map(end_of_day);
    let (service, _) = service(config).await?;
    let trials = service.trial_balance(at).await.map_err(failed)?;
    print!("{}", trial_balance_csv(&trials));
    Ok(())
}

async fn open_items(config: &Config, args: &Args) -> Outcome {
    let [id] = args.words.as_slice() else {
        return Err(usage("name one RUN_ID"));
    };
    let run = uuid::Uuid::parse_str(id)
        .map(RunId::from_uuid)
        .map_err(|_| usage("RUN_ID is a UUID"))?;
    let (service, _) = service(config).await?;
    service
        .stored_run(run)
        .await
        .map_err(failed)?
        .ok_or_else(|| Failure::Failed(format!("no run {id}")))?;
    let today = Date::of_instant(SystemClock.now())
        .ok_or_else(|| Failure::Failed("the clock is out of range".to_owned()))?;
    let open = service.open_items(run, today).await.map_err(failed)?;
    print!("{}", aged_items_csv(&open));
    Ok(())
}

async fn staff_user(config: &Config, args: &Args, role: Role) -> Outcome {
    let [email] = args.words.as_slice() else {
        return Err(usage("name one EMAIL"));
    };
    let email = Email::new(email).map_err(|e| usage(e.to_string()))?;
    let password = match std::env::var("BAZAAR_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Failure::Failed(format!("reading the password: {e}")))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < 12 {
        return Err(Failure::Failed(
            "the password needs at least 12 characters".to_owned(),
        ));
    }
    let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|_| Failure::Failed("the hashing task failed".to_owned()))?
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let (_, ledger) = service(config).await?;
    let identity = Identity::new(
        PostgresIdentity::new(&config.database_url, 2, RetryPolicy::default()),
        ledger,
        IdentityPolicy::default(),
    );
    let region = bazaar_domain::catalog::Region::default_region();
    let user = identity
        .create_user(
            &NewUser {
                id: UserId::from_uuid(uuid::Uuid::new_v4()),
                email,
                password_hash: hash,
                role,
                region,
            },
            SystemClock.now(),
        )
        .await
        .map_err(|e| Failure::Failed(format!("{}: {e}", e.code())))?;
    let mut entry = crate::audit_trail::entry(
        "admin-cli",
        "user.create",
        ("user", user.id.as_uuid().to_string()),
        "bazaar-admin",
    );
    entry.detail = crate::audit_trail::actor(&user);
    crate::state::audit_trail(config)
        .record(entry, SystemClock.now())
        .await
        .map_err(|e| Failure::Failed(format!("the audit log refused the record: {e}")))?;
    let kind = if role == Role::Finance {
        "finance"
    } else {
        "compliance"
    };
    println!(
        "{kind} user {} created ({})",
        user.email.as_str(),
        user.id.as_uuid()
    );
    Ok(())
}

async fn dispatch(config: &Config, args: &[String]) -> Outcome {
    match args {
        [group, command, rest @ ..] if group == "reconcile" => {
            let parsed = Args::parse(rest, &["dry-run", "book"])?;
            match command.as_str() {
                "import" => import(config, &parsed).await,
                "run" => run(config, &parsed).await,
                "trial-balance" => trial_balance(config, &parsed).await,
                "open-items" => open_items(config, &parsed).await,
                other => Err(usage(format!("unknown command reconcile {other}"))),
            }
        }
        [command, rest @ ..] if command == "finance-user" => {
            staff_user(config, &Args::parse(rest, &[])?, Role::Finance).await
        }
        [command, rest @ ..] if command == "compliance-user" => {
            staff_user(config, &Args::parse(rest, &[])?, Role::Compliance).await
        }
        [command, rest @ ..] if command == "reseal" => {
            reseal(config, &Args::parse(rest, &[])?).await
        }
        _ => Err(usage("")),
    }
}

/// Moves every webhook secret and every bank account's details onto the newest key of
/// their vault keyring (after a rotation, or off the flat `BAZAAR_SECRETS_KEY`), a batch at
/// a time with a progress bar; records the run in the audit log.
async fn reseal(config: &Config, args: &Args) -> Outcome {
    if config.vault.is_none() {
        return Err(Failure::Failed(
            "BAZAAR_VAULT_URL is unset: there are no vault keys to move secrets onto".to_owned(),
        ));
    }
    let batch = match args.value("batch") {
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=bazaar_postgres::RESEAL_BATCH_MAX).contains(n))
            .ok_or_else(|| usage("--batch is 1 to 1000"))?,
        None => bazaar_postgres::RESEAL_BATCH_MAX,
    };
    let (webhook_keys, bank_keys) = crate::state::secret_keys(config);
    let events = PostgresEvents::new(
        &config.database_url,
        2,
        RetryPolicy::default(),
        webhook_keys,
    );
    let payouts = PostgresPayouts::new(&config.database_url, 2, RetryPolicy::default(), bank_keys);
    let mut moved = [0_u64; 2];
    for (table, label) in [(0, "webhook secrets"), (1, "bank details")] {
        let mut progress = Progress::new(label);
        let (mut after, mut done) = (None, 0_u64);
        loop {
            let step = match table {
                0 => events
                    .reseal_secrets(after, batch)
                    .await
                    .map_err(|e| e.to_string()),
                _ => payouts
                    .reseal_bank_details(after, batch)
                    .await
                    .map_err(|e| e.to_string()),
            }
            .map_err(|e| Failure::Failed(format!("{label}: {e}")))?;
            done = done.saturating_add(step.scanned);
            if let Some(count) = moved.get_mut(table) {
                *count = count.saturating_add(step.moved);
            }
            let shown = usize::try_from(done).unwrap_or(usize::MAX);
            progress.update(
                shown,
                usize::try_from(step.total.max(done)).unwrap_or(usize::MAX),
            );
            match step.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    let [secrets, accounts] = moved;
    let mut entry = crate::audit_trail::entry(
        "admin-cli",
        "secrets.reseal",
        ("keyring", String::new()),
        "bazaar-admin",
    );
    entry.detail = format!("{secrets} webhook endpoints and {accounts} bank accounts moved");
    crate::state::audit_trail(config)
        .record(entry, SystemClock.now())
        .await
        .map_err(|e| Failure::Failed(format!("the audit log refused the record: {e}")))?;
    println!("moved {secrets} webhook endpoints' secrets and {accounts} bank accounts' details");
    Ok(())
}

/// Runs the command line `args` (without the program name).
pub async fn main(args: Vec<String>) -> ExitCode {
    let config = match Config::from_env(&[]) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar-admin: {error}");
            return ExitCode::from(2);
        }
    };
    match dispatch(&config, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(problem)) => {
            if !problem.is_empty() {
                eprintln!("bazaar-admin: {problem}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(problem)) => {
            eprintln!("bazaar-admin: {problem}");
            ExitCode::FAILURE
        }
    }
}
