//! The depth limit, with introspection held to its own rule.
//!
//! A query may nest at most `BAZAAR_QUERY_DEPTH_MAX` fields, counted as async-graphql counts
//! them (`__typename` is free, fragments count where they are spread). The fields under
//! `__schema` and `__type` are not counted, so the standard introspection query, whose type
//! references nest ten `ofType` levels, is answered and schema-driven tools can load the
//! schema. Introspection keeps two bounds of its own instead: the lists that can multiply
//! (`fields`, `interfaces`, `possibleTypes`, `inputFields`) may nest at most two deep inside
//! one another (the rule graphql-js applies as `MaxIntrospectionDepthRule`), and every
//! introspection field still counts toward the query cost. The parser's recursion limit
//! bounds the rest.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult};

/// Introspection lists nested this deep inside one another are refused.
pub const INTROSPECTION_LISTS_MAX: usize = 3;

fn refusal(code: &str, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// Refuses a document nested deeper than `limit` fields, or whose introspection lists nest
/// too deep; run on every parse, kept or new (see [`super::cost::QueryLimits`]).
pub fn check(document: &ExecutableDocument, limit: usize) -> ServerResult<()> {
    let shape = measure(document);
    if shape.introspection_too_deep {
        return Err(refusal(
            "introspection_too_deep",
            format!(
                "the introspection query nests fields, interfaces, possibleTypes or \
                 inputFields more than {} deep",
                INTROSPECTION_LISTS_MAX.saturating_sub(1)
            ),
        ));
    }
    if shape.depth > limit {
        return Err(refusal(
            "query_too_deep",
            format!(
                "the query is nested too deep: {} levels, more than the limit of {}",
                shape.depth, limit
            ),
        ));
    }
    Ok(())
}

/// What the depth rules need to know of a selection set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Shape {
    /// Nested fields outside introspection.
    pub depth: usize,
    /// Introspection lists nested inside one another, wherever they are.
    lists: usize,
    /// Some `__schema` or `__type` field nests its lists too deep.
    pub introspection_too_deep: bool,
}

impl Shape {
    fn max(self, other: Self) -> Self {
        Self {
            depth: self.depth.max(other.depth),
            lists: self.lists.max(other.lists),
            introspection_too_deep: self.introspection_too_deep || other.introspection_too_deep,
        }
    }
}

/// The shape of every operation in `document`, taken together.
pub fn measure(document: &ExecutableDocument) -> Shape {
    let mut walker = Walker {
        document,
        fragments: HashMap::new(),
    };
    document
        .operations
        .iter()
        .map(|(_, operation)| walker.selection_set(&operation.node.selection_set.node))
        .fold(Shape::default(), Shape::max)
}

struct Walker<'a> {
    document: &'a ExecutableDocument,
    /// Each fragment's shape, measured once; `None` while it is being measured, so a cycle
    /// (which validation refuses anyway) ends instead of recursing forever.
    fragments: HashMap<&'a str, Option<Shape>>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Shape {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.selection_set(&field.selection_set.node);
                    match field.name.node.as_str() {
                        "__typename" => Shape::default(),
                        "__schema" | "__type" => Shape {
                            depth: 0,
                            lists: 0,
                            introspection_too_deep: inner.introspection_too_deep
                                || inner.lists >= INTROSPECTION_LISTS_MAX,
                        },
                        name => {
                            let list = usize::from(matches!(
                                name,
                                "fields" | "interfaces" | "possibleTypes" | "inputFields"
                            ));
                            Shape {
                                depth: inner.depth.saturating_add(1),
                                lists: inner.lists.saturating_add(list),
                                introspection_too_deep: inner.introspection_too_deep,
                            }
                        }
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
            })
            .fold(Shape::default(), Shape::max)
    }

    fn fragment(&mut self, name: &'a str) -> Shape {
        if let Some(known) = self.fragments.get(name) {
            return known.unwrap_or_default();
        }
        let Some(definition) = self.document.fragments.get(name) else {
            return Shape::default();
        };
        self.fragments.insert(name, None);
        let shape = self.selection_set(&definition.node.selection_set.node);
        self.fragments.insert(name, Some(shape));
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(query: &str) -> Shape {
        measure(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn depth_counts_fields_through_fragments_but_not_introspection() {
        assert_eq!(shape("{ a { b { c } } }").depth, 3);
        assert_eq!(shape("{ a { __typename b } }").depth, 2);
        assert_eq!(
            shape("{ a { ...F } } fragment F on T { b { c { d } } }").depth,
            4
        );
        assert_eq!(shape("{ a { ... on T { b } } }").depth, 2);
        let introspection = "__schema { types { fields { type { ofType { ofType { ofType { \
                             ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }";
        assert_eq!(shape(&format!("{{ {introspection} }}")), Shape::default());
        assert_eq!(shape(&format!("{{ a {{ b }} {introspection} }}")).depth, 2);
    }

    #[test]
    fn introspection_lists_nest_at_most_two_deep() {
        let allowed = "{ __schema { types { fields { type { fields { name } } } } } }";
        assert!(!shape(allowed).introspection_too_deep);
        let refused =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert!(shape(refused).introspection_too_deep);
        let through_fragments = "{ __type(name: \"Query\") { ...A } } \
            fragment A on __Type { fields { type { ...B } } } \
            fragment B on __Type { interfaces { possibleTypes { name } } }";
        assert!(shape(through_fragments).introspection_too_deep);
        let cycle = "{ a { ...A } } fragment A on T { b { ...A } }";
        assert_eq!(shape(cycle).depth, 2);
    }
}
