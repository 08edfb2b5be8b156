//! Checks migration SQL against the rules that keep it running on both PostgreSQL and
//! CockroachDB (docs/cockroachdb.md). [`lint_sql`] is a pure function of the SQL text; it
//! tokenizes the text (skipping comments, string literals and dollar-quoted bodies, so that a
//! word in a comment never fires and a keyword hidden in a function body still does where it
//! matters) and looks at each statement.

use std::fmt;
use std::iter::Peekable;
use std::path::Path;
use std::str::Chars;

/// A rule a migration must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// No `SERIAL`, `BIGSERIAL`, `SMALLSERIAL` (or `SERIAL2/4/8`): ids are UUIDs the application
    /// chooses.
    Serial,
    /// No `CREATE/ALTER SEQUENCE`, `nextval`/`setval`/`currval`/`lastval`, or identity columns
    /// (which are sequences).
    Sequence,
    /// No `pg_advisory_*` / `pg_try_advisory_*` locks.
    AdvisoryLock,
    /// No `LISTEN`, `NOTIFY`, `UNLISTEN` or `pg_notify`.
    ListenNotify,
    /// No `CREATE TRIGGER/FUNCTION/PROCEDURE/RULE`, `DO` blocks or `CALL`: no correctness in
    /// server-side code.
    ProceduralCode,
    /// No data changes (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, `COPY`, `TRUNCATE`,
    /// `SELECT … INTO`, `CREATE TABLE … AS`): migrations are DDL; the application changes data,
    /// in transactions of its own.
    DataChange,
    /// Every `CREATE TABLE` declares a `PRIMARY KEY`.
    MissingPrimaryKey,
    /// A table whose name suggests personal data (buyer, seller, user, customer, address,
    /// profile) has a `home_region` column, and keeps it.
    PersonalDataWithoutHomeRegion,
}

impl Rule {
    /// Every rule, for tests that must see each one fire.
    pub const ALL: [Rule; 8] = [
        Rule::Serial,
        Rule::Sequence,
        Rule::AdvisoryLock,
        Rule::ListenNotify,
        Rule::ProceduralCode,
        Rule::DataChange,
        Rule::MissingPrimaryKey,
        Rule::PersonalDataWithoutHomeRegion,
    ];

    /// A short kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Serial => "serial",
            Rule::Sequence => "sequence",
            Rule::AdvisoryLock => "advisory-lock",
            Rule::ListenNotify => "listen-notify",
            Rule::ProceduralCode => "procedural-code",
            Rule::DataChange => "data-change",
            Rule::MissingPrimaryKey => "missing-primary-key",
            Rule::PersonalDataWithoutHomeRegion => "personal-data-without-home-region",
        }
    }
}

/// Words in a table name that mark it as holding personal data.
pub const PERSONAL_DATA_WORDS: [&str; 6] =
    ["buyer", "seller", "user", "customer", "address", "profile"];

/// The column every personal-data table carries, so it can become `REGIONAL BY ROW`.
pub const HOME_REGION_COLUMN: &str = "home_region";

/// Whether a table's name suggests it holds personal data.
pub fn is_personal_data_table(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    PERSONAL_DATA_WORDS.iter().any(|word| name.contains(word))
}

/// One broken rule, at a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintViolation {
    /// The file, as given to [`lint_sql`].
    pub file: String,
    /// The 1-based line of the offending token.
    pub line: usize,
    /// The rule broken.
    pub rule: Rule,
    /// What was found and what to do instead.
    pub message: String,
}

impl fmt::Display for LintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: [{}] {}",
            self.file,
            self.line,
            self.rule.name(),
            self.message
        )
    }
}

/// Lints one SQL file's text; `file` only labels the violations.
pub fn lint_sql(file: &str, sql: &str) -> Vec<LintViolation> {
    let mut found = Vec::new();
    for statement in statements(&tokenize(sql)) {
        check_statement(statement, &mut |line, rule, message: String| {
            found.push(LintViolation {
                file: file.to_owned(),
                line,
                rule,
                message,
            });
        });
    }
    found
}

/// What [`lint_migrations_dir`] read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// The SQL files read (`<migration>/up.sql`, `<migration>/down.sql`), sorted.
    pub files: Vec<String>,
    /// Every violation in them.
    pub violations: Vec<LintViolation>,
}

/// Lints `up.sql` and `down.sql` of every migration folder under `dir`.
pub fn lint_migrations_dir(dir: &Path) -> std::io::Result<LintReport> {
    let mut folders = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    folders.retain(|path| path.is_dir());
    folders.sort();
    let mut report = LintReport::default();
    for folder in folders {
        for file in ["up.sql", "down.sql"] {
            let path = folder.join(file);
            if !path.exists() {
                continue;
            }
            let label = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            let sql = std::fs::read_to_string(&path)?;
            report.violations.extend(lint_sql(&label, &sql));
            report.files.push(label);
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A keyword or unquoted identifier, as written.
    Word(String),
    /// A quoted identifier, without quotes.
    Quoted(String),
    /// A string, dollar-quoted string or number (its text is never inspected).
    Literal,
    Punct(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    line: usize,
}

impl Token {
    fn is(&self, keyword: &str) -> bool {
        matches!(&self.kind, Kind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn is_any(&self, keywords: &[&str]) -> bool {
        keywords.iter().any(|keyword| self.is(keyword))
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    /// The identifier this token names, if it is one (unquoted words are folded to lower case).
    fn identifier(&self) -> Option<String> {
        match &self.kind {
            Kind::Word(word) => Some(word.to_ascii_lowercase()),
            Kind::Quoted(name) => Some(name.clone()),
            Kind::Literal | Kind::Punct(_) => None,
        }
    }

    fn word(&self) -> Option<&str> {
        match &self.kind {
            Kind::Word(word) => Some(word),
            _ => None,
        }
    }
}

struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    line: usize,
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
        }
        Some(c)
    }

    fn second(&self) -> Option<char> {
        let mut ahead = self.chars.clone();
        ahead.next();
        ahead.next()
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    /// After `/*`: skips a (possibly nested) block comment.
    fn skip_block_comment(&mut self) {
        let mut depth: usize = 1;
        while let Some(c) = self.bump() {
            match (c, self.chars.peek()) {
                ('*', Some('/')) => {
                    self.bump();
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                ('/', Some('*')) => {
                    self.bump();
                    depth = depth.saturating_add(1);
                }
                _ => {}
            }
        }
    }

    /// After the opening quote: reads up to the closing one (a doubled quote is an escaped
    /// quote; with `backslashes`, so is a backslash-escaped one).
    fn quoted(&mut self, quote: char, backslashes: bool) -> String {
        let mut text = String::new();
        while let Some(c) = self.bump() {
            if backslashes && c == '\\' {
                if let Some(escaped) = self.bump() {
                    text.push(escaped);
                }
            } else if c == quote {
                if self.chars.peek() == Some(&quote) {
                    self.bump();
                    text.push(quote);
                } else {
                    break;
                }
            } else {
                text.push(c);
            }
        }
        text
    }

    /// At a `$`: the `$tag$` delimiter that starts here, if one does.
    fn dollar_delimiter(&self) -> Option<String> {
        let mut ahead = self.chars.clone();
        let mut delimiter = String::from(ahead.next()?);
        for c in ahead {
            delimiter.push(c);
            if c == '$' {
                return Some(delimiter);
            }
            let allowed = c == '_' || c.is_alphabetic() || (delimiter.len() > 2 && c.is_numeric());
            if !allowed {
                return None;
            }
        }
        None
    }

    fn skip_dollar_quoted(&mut self, delimiter: &str) {
        for _ in delimiter.chars() {
            self.bump();
        }
        let mut body = String::new();
        while let Some(c) = self.bump() {
            body.push(c);
            if body.ends_with(delimiter) {
                return;
            }
        }
    }

    fn next_token(&mut self) -> Option<Token> {
        loop {
            let c = *self.chars.peek()?;
            let line = self.line;
            let token = |kind| Some(Token { kind, line });
            match c {
                c if c.is_whitespace() => {
                    self.bump();
                }
                '-' if self.second() == Some('-') => self.skip_line(),
                '/' if self.second() == Some('*') => {
                    self.bump();
                    self.bump();
                    self.skip_block_comment();
                }
                '\'' => {
                    self.bump();
                    self.quoted('\'', false);
                    return token(Kind::Literal);
                }
                '"' => {
                    self.bump();
                    return token(Kind::Quoted(self.quoted('"', false)));
                }
                '$' => match self.dollar_delimiter() {
                    Some(delimiter) => {
                        self.skip_dollar_quoted(&delimiter);
                        return token(Kind::Literal);
                    }
                    None => {
                        // A positional parameter such as `$1`.
                        self.bump();
                        while self.chars.peek().is_some_and(char::is_ascii_digit) {
                            self.bump();
                        }
                        return token(Kind::Literal);
                    }
                },
                c if c.is_alphabetic() || c == '_' => {
                    let mut word = String::new();
                    while let Some(&c) = self.chars.peek() {
                        if !(c.is_alphanumeric() || c == '_' || c == '$') {
                            break;
                        }
                        word.push(c);
                        self.bump();
                    }
                    // E'…' strings take backslash escapes.
                    if word.eq_ignore_ascii_case("e") && self.chars.peek() == Some(&'\'') {
                        self.bump();
                        self.quoted('\'', true);
                        return token(Kind::Literal);
                    }
                    return token(Kind::Word(word));
                }
                c if c.is_ascii_digit() => {
                    while self
                        .chars
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.')
                    {
                        self.bump();
                    }
                    return token(Kind::Literal);
                }
                c => {
                    self.bump();
                    return token(Kind::Punct(c));
                }
            }
        }
    }
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: sql.chars().peekable(),
        line: 1,
    };
    std::iter::from_fn(|| lexer.next_token()).collect()
}

fn statements(tokens: &[Token]) -> impl Iterator<Item = &[Token]> {
    tokens
        .split(|token| token.is_punct(';'))
        .filter(|statement| !statement.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Rules

const SERIAL_TYPES: [&str; 6] = [
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "bigserial",
    "smallserial",
];
const SEQUENCE_FUNCTIONS: [&str; 4] = ["nextval", "setval", "currval", "lastval"];
const DML_STATEMENTS: [&str; 6] = ["insert", "update", "delete", "merge", "copy", "truncate"];
const CREATE_MODIFIERS: [&str; 9] = [
    "or",
    "replace",
    "global",
    "local",
    "temp",
    "temporary",
    "unlogged",
    "constraint",
    "event",
];

fn check_statement(statement: &[Token], report: &mut impl FnMut(usize, Rule, String)) {
    let Some(first) = statement.first() else {
        return;
    };
    let leading = first.word().unwrap_or_default().to_ascii_lowercase();

    for (index, token) in statement.iter().enumerate() {
        let next = statement.get(index.saturating_add(1));
        let previous = index.checked_sub(1).and_then(|i| statement.get(i));
        let Some(word) = token.word().map(str::to_ascii_lowercase) else {
            continue;
        };
        if SERIAL_TYPES.contains(&word.as_str()) {
            report(
                token.line,
                Rule::Serial,
                format!("{word}: use a UUID primary key chosen by the application"),
            );
        }
        if SEQUENCE_FUNCTIONS.contains(&word.as_str()) && next.is_some_and(|t| t.is_punct('(')) {
            report(
                token.line,
                Rule::Sequence,
                format!("{word}(): sequences are a contention point on CockroachDB; use UUIDs"),
            );
        }
        if word == "identity" && previous.is_some_and(|t| t.is("as")) {
            report(
                token.line,
                Rule::Sequence,
                "identity column: it is backed by a sequence; use a UUID chosen by the application"
                    .to_owned(),
            );
        }
        if word.starts_with("pg_advisory") || word.starts_with("pg_try_advisory") {
            report(
                token.line,
                Rule::AdvisoryLock,
                format!("{word}: advisory locks do not exist on CockroachDB; lock rows instead"),
            );
        }
        if word == "pg_notify" {
            report(
                token.line,
                Rule::ListenNotify,
                "pg_notify: use the outbox table".to_owned(),
            );
        }
    }

    match leading.as_str() {
        "listen" | "notify" | "unlisten" => report(
            first.line,
            Rule::ListenNotify,
            format!("{}: use the outbox table", leading.to_ascii_uppercase()),
        ),
        "do" | "call" => report(
            first.line,
            Rule::ProceduralCode,
            format!(
                "{}: no procedural code in migrations",
                leading.to_ascii_uppercase()
            ),
        ),
        "create" => check_create(statement, report),
        "alter" => check_alter(statement, report),
        "select" => {
            if let Some(into) = statement.iter().find(|t| t.is("into")) {
                report(
                    into.line,
                    Rule::DataChange,
                    "SELECT … INTO writes data: the application changes data, not migrations"
                        .to_owned(),
                );
            }
        }
        "with" => {
            if let Some(dml) = statement.iter().find(|t| t.is_any(&DML_STATEMENTS)) {
                report(
                    dml.line,
                    Rule::DataChange,
                    "data-modifying WITH: the application changes data, not migrations".to_owned(),
                );
            }
        }
        dml if DML_STATEMENTS.contains(&dml) => report(
            first.line,
            Rule::DataChange,
            format!(
                "{}: keep DDL and DML apart; the application changes data, not migrations",
                dml.to_ascii_uppercase()
            ),
        ),
        _ => {}
    }
}

/// `CREATE …`: procedural objects, sequences, and tables.
fn check_create(statement: &[Token], report: &mut impl FnMut(usize, Rule, String)) {
    // The object keyword after CREATE and its modifiers (OR REPLACE, TEMP, UNLOGGED, ...).
    let mut rest = statement
        .iter()
        .skip(1)
        .skip_while(|t| t.is_any(&CREATE_MODIFIERS));
    let Some(object) = rest.next() else {
        return;
    };
    let kind = object.word().unwrap_or_default().to_ascii_lowercase();
    match kind.as_str() {
        "trigger" | "function" | "procedure" | "rule" => report(
            object.line,
            Rule::ProceduralCode,
            format!(
                "CREATE {}: no correctness in server-side code",
                kind.to_ascii_uppercase()
            ),
        ),
        "sequence" => report(
            object.line,
            Rule::Sequence,
            "CREATE SEQUENCE: use UUIDs chosen by the application".to_owned(),
        ),
        "table" => check_create_table(object, rest.collect(), report),
        _ => {}
    }
}

/// Reads `name` or `schema.name` and returns the last part ("" if there is no name).
fn qualified_name<'a>(tokens: &mut Peekable<impl Iterator<Item = &'a Token>>) -> String {
    let mut name = String::new();
    while let Some(part) = tokens.next_if(|t| t.identifier().is_some()) {
        name = part.identifier().unwrap_or_default();
        if tokens.next_if(|t| t.is_punct('.')).is_none() {
            break;
        }
    }
    name
}

/// `CREATE TABLE [IF NOT EXISTS] name …`, from the token after TABLE.
fn check_create_table(
    table_keyword: &Token,
    rest: Vec<&Token>,
    report: &mut impl FnMut(usize, Rule, String),
) {
    let mut rest = rest.into_iter().peekable();
    if rest.peek().is_some_and(|t| t.is("if")) {
        rest.next();
        rest.next(); // NOT
        rest.next(); // EXISTS
    }
    let name = qualified_name(&mut rest);
    let body: Vec<&Token> = rest.collect();
    let line = table_keyword.line;

    // CREATE TABLE … AS copies rows: a data change, and a table without a declared key.
    let mut depth: usize = 0;
    for token in &body {
        if token.is_punct('(') {
            depth = depth.saturating_add(1);
        } else if token.is_punct(')') {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && token.is("as") {
            report(
                token.line,
                Rule::DataChange,
                format!(
                    "CREATE TABLE {name} AS copies data: create the table, let the application fill it"
                ),
            );
            break;
        }
    }
    if body.first().is_some_and(|t| t.is("partition")) {
        return; // A partition takes its key from the parent.
    }

    let has_primary_key = body
        .windows(2)
        .any(|pair| matches!(pair, [a, b] if a.is("primary") && b.is("key")));
    if !has_primary_key {
        report(
            line,
            Rule::MissingPrimaryKey,
            format!("CREATE TABLE {name} has no PRIMARY KEY: declare one (a UUID)"),
        );
    }
    if is_personal_data_table(&name) {
        let has_home_region = body
            .iter()
            .any(|t| t.identifier().as_deref() == Some(HOME_REGION_COLUMN));
        if !has_home_region {
            report(
                line,
                Rule::PersonalDataWithoutHomeRegion,
                format!(
                    "table {name} looks like personal data but has no {HOME_REGION_COLUMN} column"
                ),
            );
        }
    }
}

/// `ALTER TABLE personal … DROP/RENAME [COLUMN] home_region`.
fn check_alter(statement: &[Token], report: &mut impl FnMut(usize, Rule, String)) {
    if !statement.get(1).is_some_and(|t| t.is("table")) {
        return;
    }
    let mut rest = statement
        .iter()
        .skip(2)
        .skip_while(|t| t.is_any(&["if", "exists", "only"]))
        .peekable();
    let name = qualified_name(&mut rest);
    if !is_personal_data_table(&name) {
        return;
    }
    for (index, token) in statement.iter().enumerate() {
        if !token.is_any(&["drop", "rename"]) {
            continue;
        }
        let column = statement
            .iter()
            .skip(index.saturating_add(1))
            .find(|t| !t.is_any(&["column", "if", "exists"]));
        if let Some(column) = column
            && column.identifier().as_deref() == Some(HOME_REGION_COLUMN)
        {
            report(
                column.line,
                Rule::PersonalDataWithoutHomeRegion,
                format!(
                    "table {name} holds personal data: it must keep its {HOME_REGION_COLUMN} column"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<Rule> {
        lint_sql("t.sql", sql).into_iter().map(|v| v.rule).collect()
    }

    fn fires(rule: Rule, sql: &str) {
        let found = lint_sql("bad.sql", sql);
        assert!(
            found.iter().any(|v| v.rule == rule),
            "{rule:?} did not fire on:\n{sql}\nfound: {found:#?}"
        );
    }

    const GOOD: &str = "
        -- A comment that mentions SERIAL, nextval(, INSERT and pg_advisory_lock.
        /* and a /* nested */ block comment: CREATE TRIGGER t; DELETE FROM x; */
        CREATE TABLE sellers (
            id UUID PRIMARY KEY,
            home_region TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT 'INSERT; DELETE; serial',
            odd TEXT DEFAULT E'it\\'s; UPDATE',
            \"serial\" TEXT
        );
        CREATE TABLE IF NOT EXISTS public.ledger_things (
            a UUID NOT NULL,
            b UUID NOT NULL REFERENCES sellers (id) ON DELETE CASCADE ON UPDATE RESTRICT,
            PRIMARY KEY (a, b)
        );
        CREATE INDEX ledger_things_b ON ledger_things (b) WHERE a IS NOT NULL;
        ALTER TABLE sellers ADD COLUMN display_name TEXT;
        ALTER TABLE sellers DROP COLUMN note;
        COMMENT ON TABLE sellers IS $$CREATE FUNCTION f(); INSERT INTO x$$;
        DROP TABLE ledger_things;
    ";

    #[test]
    fn clean_sql_passes() {
        assert_eq!(lint_sql("good.sql", GOOD), vec![]);
        assert_eq!(lint_sql("empty.sql", ""), vec![]);
        assert_eq!(
            lint_sql("comments.sql", "-- nothing\n/* at all */\n;;"),
            vec![]
        );
    }

    #[test]
    fn serial_types_fire() {
        for ty in ["SERIAL", "bigserial", "SmallSerial", "serial8"] {
            fires(
                Rule::Serial,
                &format!("CREATE TABLE t (id {ty} PRIMARY KEY);"),
            );
        }
    }

    #[test]
    fn sequences_fire() {
        fires(Rule::Sequence, "CREATE SEQUENCE s;");
        fires(Rule::Sequence, "CREATE TEMP SEQUENCE IF NOT EXISTS s;");
        fires(
            Rule::Sequence,
            "CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT nextval('s'));",
        );
        fires(Rule::Sequence, "SELECT setval('s', 10);");
        fires(
            Rule::Sequence,
            "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        );
    }

    #[test]
    fn advisory_locks_fire() {
        fires(Rule::AdvisoryLock, "SELECT pg_advisory_lock(1);");
        fires(
            Rule::AdvisoryLock,
            "SELECT pg_try_advisory_xact_lock(1, 2);",
        );
    }

    #[test]
    fn listen_notify_fire() {
        fires(Rule::ListenNotify, "LISTEN ledger;");
        fires(Rule::ListenNotify, "NOTIFY ledger, 'x';");
        fires(Rule::ListenNotify, "UNLISTEN *;");
        fires(Rule::ListenNotify, "SELECT pg_notify('ledger', 'x');");
    }

    #[test]
    fn procedural_code_fires() {
        fires(
            Rule::ProceduralCode,
            "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN RETURN NEW; END $body$ LANGUAGE plpgsql;",
        );
        fires(
            Rule::ProceduralCode,
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql;",
        );
        fires(
            Rule::ProceduralCode,
            "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION f();",
        );
        fires(
            Rule::ProceduralCode,
            "CREATE CONSTRAINT TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f();",
        );
        fires(
            Rule::ProceduralCode,
            "CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$;",
        );
        fires(Rule::ProceduralCode, "DO $$ BEGIN PERFORM 1; END $$;");
        fires(
            Rule::ProceduralCode,
            "do language plpgsql $x$ begin end $x$;",
        );
        fires(Rule::ProceduralCode, "CALL p();");
    }

    #[test]
    fn data_changes_fire() {
        for sql in [
            "INSERT INTO t (id) VALUES ('00000000-0000-0000-0000-000000000000');",
            "UPDATE t SET a = 1;",
            "DELETE FROM t;",
            "TRUNCATE t;",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE;",
            "COPY t FROM STDIN;",
            "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved;",
            "SELECT * INTO t2 FROM t;",
            "CREATE TABLE t2 AS SELECT * FROM t;",
            "CREATE TABLE t2 (id) AS SELECT id FROM t;",
        ] {
            fires(Rule::DataChange, sql);
        }
    }

    #[test]
    fn tables_without_primary_keys_fire() {
        fires(
            Rule::MissingPrimaryKey,
            "CREATE TABLE t (id UUID NOT NULL);",
        );
        fires(
            Rule::MissingPrimaryKey,
            "CREATE UNLOGGED TABLE IF NOT EXISTS s.t (id UUID UNIQUE);",
        );
        // The key of another table in the same file does not count.
        fires(
            Rule::MissingPrimaryKey,
            "CREATE TABLE a (id UUID PRIMARY KEY); CREATE TABLE b (id UUID);",
        );
    }

    #[test]
    fn personal_data_without_home_region_fires() {
        for table in [
            "buyers",
            "seller_profiles",
            "\"Users\"",
            "customer",
            "shipping_addresses",
            "public.profile",
        ] {
            fires(
                Rule::PersonalDataWithoutHomeRegion,
                &format!("CREATE TABLE {table} (id UUID PRIMARY KEY, name TEXT);"),
            );
        }
        fires(
            Rule::PersonalDataWithoutHomeRegion,
            "ALTER TABLE buyers DROP COLUMN home_region;",
        );
        fires(
            Rule::PersonalDataWithoutHomeRegion,
            "ALTER TABLE IF EXISTS ONLY buyers DROP COLUMN IF EXISTS home_region;",
        );
        fires(
            Rule::PersonalDataWithoutHomeRegion,
            "ALTER TABLE buyers RENAME COLUMN home_region TO region;",
        );
        // Not personal data: no home_region needed.
        assert_eq!(
            rules("CREATE TABLE currencies (code CHAR(3) PRIMARY KEY);"),
            vec![]
        );
    }

    #[test]
    fn every_rule_has_a_firing_example() {
        let examples = [
            "CREATE TABLE a (id SERIAL PRIMARY KEY);",
            "CREATE SEQUENCE s;",
            "SELECT pg_advisory_xact_lock(7);",
            "NOTIFY x;",
            "DO $$ BEGIN END $$;",
            "INSERT INTO a VALUES (1);",
            "CREATE TABLE b (id UUID);",
            "CREATE TABLE users (id UUID PRIMARY KEY);",
        ];
        let mut seen: Vec<Rule> = examples.iter().flat_map(|sql| rules(sql)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, Rule::ALL.to_vec());
    }

    #[test]
    fn violations_name_file_and_line() {
        let sql = "CREATE TABLE a (id UUID PRIMARY KEY);\n\n-- ok\nINSERT INTO a\nVALUES (1);\nCREATE TABLE b (\n  id BIGSERIAL PRIMARY KEY\n);";
        let found = lint_sql("2026-01-01-000000_x/up.sql", sql);
        let lines: Vec<(usize, Rule)> = found.iter().map(|v| (v.line, v.rule)).collect();
        assert_eq!(lines, vec![(4, Rule::DataChange), (7, Rule::Serial)]);
        assert!(
            found[0]
                .to_string()
                .starts_with("2026-01-01-000000_x/up.sql:4: [data-change] ")
        );
    }

    #[test]
    fn strings_comments_and_dollar_bodies_hide_keywords() {
        assert_eq!(
            rules("COMMENT ON TABLE a IS 'INSERT INTO a; SERIAL';"),
            vec![]
        );
        assert_eq!(
            rules("COMMENT ON TABLE a IS $tag$ DELETE FROM a; $ $$ $tag$;"),
            vec![]
        );
        assert_eq!(
            rules("-- DO $$ BEGIN END $$;\nCOMMENT ON TABLE a IS 'x';"),
            vec![]
        );
        // A semicolon inside a string does not end the statement.
        assert_eq!(rules("COMMENT ON TABLE a IS 'x; DELETE FROM a';"), vec![]);
    }
}
