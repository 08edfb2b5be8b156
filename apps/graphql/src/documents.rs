//! Parsed query documents kept by their text: clients send the same few query texts with
//! different variables, and parsing a text is a fifth of the server's work on a request that
//! the read cache does not answer. A kept parse is used as is: the depth limit and validation
//! still run on it for every request, since they depend on the schema and the variables, not
//! on the parse alone. A text is kept the second time it is seen, so that texts sent once
//! (arguments written into the text) cost no copy of their parse, and only if it holds
//! nothing but queries or has every number and string in variables (see [`no_literals`]).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql_value::Value;

use crate::read_cache::lock;

/// The most documents kept; when full, one is dropped for each new one.
pub const DOCUMENTS_KEPT_MAX: usize = 1_024;
/// The most texts remembered as seen once; when full, they are all forgotten.
pub const TEXTS_SEEN_MAX: usize = 16_384;
/// The longest query text kept; longer ones are parsed every time.
pub const DOCUMENT_BYTES_MAX: usize = 16 * 1024;

/// Parsed documents by their query text.
#[derive(Debug, Default)]
pub struct ParsedDocuments {
    kept: Mutex<HashMap<Arc<str>, ExecutableDocument>>,
    /// Hashes of texts seen once and not kept yet.
    seen: Mutex<HashSet<u64>>,
    hasher: RandomState,
}

impl ParsedDocuments {
    /// Whether `text` was seen before; remembers it if not.
    fn seen_before(&self, text: &str) -> bool {
        let hash = self.hasher.hash_one(text);
        let mut seen = lock(&self.seen);
        if seen.remove(&hash) {
            return true;
        }
        if seen.len() >= TEXTS_SEEN_MAX {
            seen.clear();
        }
        seen.insert(hash);
        false
    }

    fn kept(&self) -> MutexGuard<'_, HashMap<Arc<str>, ExecutableDocument>> {
        lock(&self.kept)
    }

    /// Gives `request` the parse of its text: the one kept for the same text, or a new one,
    /// kept if the text was seen before, parses, is short enough, and holds only queries or
    /// no number or string written into it. A text that does not parse is left to the
    /// execution, which reports the syntax error.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        let found = self.kept().get(request.query.as_str()).cloned();
        if let Some(document) = found {
            request.set_parsed_query(document);
            return;
        }
        if request.query.len() > DOCUMENT_BYTES_MAX || !self.seen_before(&request.query) {
            return;
        }
        let Ok(document) = request.parsed_query() else {
            return;
        };
        if !only_queries(document) && !no_literals(document) {
            return;
        }
        let document = document.clone();
        let mut kept = self.kept();
        if kept.len() >= DOCUMENTS_KEPT_MAX
            && let Some(evicted) = kept.keys().next().cloned()
        {
            kept.remove(&evicted);
        }
        kept.insert(Arc::from(request.query.as_str()), document);
    }
}

/// Whether every operation of `document` is a query.
fn only_queries(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .all(|(_, operation)| operation.node.ty == OperationType::Query)
}

/// Whether no argument or variable default of `document` is a number or string written into
/// the text: every such value comes in variables. Only such mutation texts are kept, since a
/// client may write a password, a card number or a bank account into one, and no such text
/// should outlive its request.
fn no_literals(document: &ExecutableDocument) -> bool {
    let defaults = document.operations.iter().all(|(_, operation)| {
        operation
            .node
            .variable_definitions
            .iter()
            .all(|definition| {
                definition
                    .node
                    .default_value
                    .as_ref()
                    .is_none_or(|value| !const_literal(&value.node))
            })
    });
    let mut sets: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        )
        .collect();
    let mut clean = defaults;
    while clean && let Some(set) = sets.pop() {
        for item in &set.items {
            let (directives, selection_set) = match &item.node {
                Selection::Field(field) => {
                    clean &= field.node.arguments.iter().all(|(_, v)| !literal(&v.node));
                    (&field.node.directives, &field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => {
                    (&fragment.node.directives, &fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => (&spread.node.directives, &EMPTY),
            };
            clean &= directives
                .iter()
                .all(|d| d.node.arguments.iter().all(|(_, v)| !literal(&v.node)));
            sets.push(selection_set);
        }
    }
    clean
}

static EMPTY: SelectionSet = SelectionSet { items: Vec::new() };

/// Whether an argument's value holds a number or a string (variables, enums, booleans and
/// null do not).
fn literal(value: &Value) -> bool {
    match value {
        Value::Number(_) | Value::String(_) | Value::Binary(_) => true,
        Value::Variable(_) | Value::Null | Value::Boolean(_) | Value::Enum(_) => false,
        Value::List(items) => items.iter().any(literal),
        Value::Object(fields) => fields.values().any(literal),
    }
}

/// [`literal`] for a constant (a variable's default).
fn const_literal(value: &ConstValue) -> bool {
    match value {
        ConstValue::Number(_) | ConstValue::String(_) | ConstValue::Binary(_) => true,
        ConstValue::Null | ConstValue::Boolean(_) | ConstValue::Enum(_) => false,
        ConstValue::List(items) => items.iter().any(const_literal),
        ConstValue::Object(fields) => fields.values().any(const_literal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> async_graphql::Request {
        async_graphql::Request::new(text)
    }

    impl ParsedDocuments {
        fn len(&self) -> usize {
            self.kept().len()
        }
    }

    #[test]
    fn texts_seen_once_are_remembered_within_their_bound() {
        let documents = ParsedDocuments::default();
        for n in 0..TEXTS_SEEN_MAX + 10 {
            documents.prepare(&mut request(&format!("{{ a{n}: __typename }}")));
        }
        assert!(documents.seen.lock().map(|seen| seen.len()).unwrap_or(0) <= TEXTS_SEEN_MAX);
        assert_eq!(documents.len(), 0);
    }

    #[test]
    fn a_text_seen_twice_is_kept_and_its_parse_given_to_later_requests() {
        let documents = ParsedDocuments::default();
        let text = "query P($id: ID!) { product(id: $id) { title } }";
        // Seen once: parsed for its request, not kept.
        documents.prepare(&mut request(text));
        assert_eq!(documents.len(), 0);
        // Seen twice: kept, and given as it is to the requests after.
        let mut second = request(text);
        documents.prepare(&mut second);
        assert_eq!(documents.len(), 1);
        let mut third = request(text);
        documents.prepare(&mut third);
        assert_eq!(documents.len(), 1);
        let (Ok(a), Ok(b)) = (second.parsed_query(), third.parsed_query()) else {
            panic!("both requests carry a parse");
        };
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn mutations_with_values_written_into_them_are_never_kept() {
        let documents = ParsedDocuments::default();
        let texts = [
            r#"mutation { signIn(email: "a@b.c", password: "secret") { token } }"#,
            r#"query Q { __typename } mutation M { signIn(email: "a@b.c", password: "x") { token } }"#,
            r#"mutation ($e: String!) { signIn(email: $e, password: "x") { token } }"#,
            r#"mutation ($p: String = "x") { signIn(email: "", password: $p) { token } }"#,
            r#"mutation ($p: String = "secret") { signIn(email: $e, password: $p) { token } }"#,
            r#"mutation { payout(input: {amounts: [{minor: 12}]}) { id } }"#,
            r#"mutation { ...F } fragment F on Mutation { signIn(email: $e, password: "x") { token } }"#,
            r#"mutation { signIn(email: $e, password: $p) @skip(if: $s) { token @include(if: "x") } }"#,
        ];
        for text in texts {
            for _ in 0..3 {
                let mut request = request(text);
                documents.prepare(&mut request);
                assert!(
                    request.parsed_query().is_ok(),
                    "{text} is parsed for its request"
                );
            }
        }
        assert_eq!(documents.len(), 0);
        // Every value in variables (enums, booleans and null may be written in): kept.
        let clean = r#"mutation ($e: String!, $p: String!, $s: Boolean = false) {
            signIn(email: $e, password: $p) @skip(if: $s) { token kind(x: NONE, y: null) }
        }"#;
        for _ in 0..2 {
            documents.prepare(&mut request(clean));
        }
        assert_eq!(documents.len(), 1);
    }

    #[test]
    fn texts_that_do_not_parse_or_are_too_long_are_not_kept() {
        let documents = ParsedDocuments::default();
        let long = format!("{{ __typename {} }}", " ".repeat(DOCUMENT_BYTES_MAX));
        for _ in 0..3 {
            documents.prepare(&mut request("{ product(id: "));
            documents.prepare(&mut request(&long));
        }
        assert_eq!(documents.len(), 0);
    }

    #[test]
    fn the_kept_documents_stay_within_their_bound() {
        let documents = ParsedDocuments::default();
        for n in 0..DOCUMENTS_KEPT_MAX + 10 {
            let text = format!("{{ a{n}: __typename }}");
            documents.prepare(&mut request(&text));
            documents.prepare(&mut request(&text));
        }
        assert_eq!(documents.len(), DOCUMENTS_KEPT_MAX);
    }
}
