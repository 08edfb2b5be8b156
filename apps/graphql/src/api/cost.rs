//! The request limits (depth and one sign-in per request from `depth.rs` and `limits.rs`,
//! cost here) in one extension, and the query cost.
//!
//! Query cost: the complexity computed before execution (requested) and the number of fields
//! actually resolved (actual), reported in `extensions.cost` of every response, in the manner
//! of Shopify's calculated query cost. Requests above the limit are refused before they run,
//! with both figures still reported. The fields resolved are counted in the response's data
//! once it is complete, rather than by a hook around every field's resolver, which cost every
//! field a chain of boxed futures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    value,
};

/// The request limits, as the schema's one extension: the depth limit and one sign-in per
/// request on every parse, the cost limit at validation, and the cost reported on every
/// response. One extension rather than one per limit, because every extension registered
/// wraps every field's resolver in its own future.
pub struct QueryLimits {
    cost_max: usize,
    depth_max: usize,
}

impl QueryLimits {
    pub fn new(cost_max: usize, depth_max: usize) -> Self {
        Self {
            cost_max,
            depth_max,
        }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostExtension {
            limit: self.cost_max,
            depth_max: self.depth_max,
            requested: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
        })
    }
}

struct CostExtension {
    limit: usize,
    depth_max: usize,
    requested: AtomicUsize,
    depth: AtomicUsize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CostExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let limit = i64::try_from(self.limit).unwrap_or(i64::MAX);
        let number =
            |value: &AtomicUsize| i64::try_from(value.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let actual = i64::try_from(fields_resolved(&response.data)).unwrap_or(i64::MAX);
        response.extension(
            "cost",
            value!({
                "requested": number(&self.requested),
                "actual": actual,
                "depth": number(&self.depth),
                "limit": limit,
            }),
        )
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        crate::limits::one_hash_per_request(&document)?;
        super::depth::check(&document, self.depth_max)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.requested.store(result.complexity, Ordering::Relaxed);
        self.depth.store(result.depth, Ordering::Relaxed);
        if result.complexity > self.limit {
            let mut error = ServerError::new(
                format!(
                    "the query costs {} points, more than the limit of {}; ask for fewer items",
                    result.complexity, self.limit
                ),
                None,
            );
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", "query_cost_exceeded");
            error.extensions = Some(extensions);
            return Err(vec![error]);
        }
        Ok(result)
    }
}

/// The fields a response's data holds: every key of every object, but `__typename` (which no
/// resolver answers), and an introspection field (`__schema`, `__type`) as one field whatever
/// it holds. An object made null by an error holds none.
pub fn fields_resolved(data: &Value) -> usize {
    let mut count: usize = 0;
    let mut pending = vec![data];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(fields) => {
                for (name, value) in fields {
                    match name.as_str() {
                        "__typename" => {}
                        "__schema" | "__type" => count = count.saturating_add(1),
                        _ => {
                            count = count.saturating_add(1);
                            pending.push(value);
                        }
                    }
                }
            }
            Value::List(items) => pending.extend(items),
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_resolved_are_counted_in_the_data() {
        let data = value!({
            "products": {
                "edges": [
                    { "node": { "id": "a", "__typename": "ProductNode", "seller": { "name": "x" } } },
                    { "node": { "id": "b", "__typename": "ProductNode", "seller": null } },
                ],
            },
            "__schema": { "types": [{ "name": "Query" }, { "name": "Mutation" }] },
            "me": null,
        });
        // products, edges, 2 × node, 2 × id, 2 × seller, one name, __schema as one, me.
        assert_eq!(fields_resolved(&data), 11);
        assert_eq!(fields_resolved(&Value::Null), 0);
    }
}
