//! Query cost: the complexity computed before execution (requested) and the number of fields
//! actually resolved (actual), reported in `extensions.cost` of every response, in the manner
//! of Shopify's calculated query cost. Requests above the limit are refused before they run,
//! with both figures still reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, value,
};

pub struct QueryCost {
    limit: usize,
}

impl QueryCost {
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl ExtensionFactory for QueryCost {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostExtension {
            limit: self.limit,
            requested: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            actual: AtomicUsize::new(0),
        })
    }
}

struct CostExtension {
    limit: usize,
    requested: AtomicUsize,
    depth: AtomicUsize,
    actual: AtomicUsize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CostExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let limit = i64::try_from(self.limit).unwrap_or(i64::MAX);
        let number =
            |value: &AtomicUsize| i64::try_from(value.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        response.extension(
            "cost",
            value!({
                "requested": number(&self.requested),
                "actual": number(&self.actual),
                "depth": number(&self.depth),
                "limit": limit,
            }),
        )
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

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if !info.is_for_introspection {
            self.actual.fetch_add(1, Ordering::Relaxed);
        }
        next.run(ctx, info).await
    }
}
