// Schema-driven tools load the schema: the standard introspection query is answered over
// HTTP although it nests deeper than the depth limit, while introspection that multiplies
// lists is still refused and every introspection query is still costed.

use super::support::Server;
use serde_json::json;

const STANDARD_QUERY: &str = include_str!("introspection_query.graphql");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_introspection_query_is_answered() {
    // A depth limit below what the API's own deepest fields need: introspection is exempt,
    // plain fields are not.
    let server = Server::start(&[("BAZAAR_QUERY_DEPTH_MAX", "4")]).await;
    let body = serde_json::to_vec(&json!({
        "query": STANDARD_QUERY,
        "operationName": "IntrospectionQuery",
    }))
    .unwrap();
    let (status, value) = server.raw(None, body).await;
    assert_eq!(status, 200, "{value}");
    assert!(value.get("errors").is_none(), "{value}");
    let schema = &value["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    let types = schema["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "ProductNode"), "{schema}");
    // Deeper than the default depth limit of 10, and still costed.
    assert!(
        value["extensions"]["cost"]["depth"].as_i64().unwrap() > 10,
        "{value}"
    );
    assert!(
        value["extensions"]["cost"]["requested"].as_i64().unwrap() > 0,
        "{value}"
    );
    // What was resolved: `__schema`, counted as one field whatever it holds.
    assert_eq!(value["extensions"]["cost"]["actual"], 1, "{value}");
    assert_eq!(
        server
            .code(
                None,
                "{ products { edges { node { skus { price { amount } } } } } }",
                json!({})
            )
            .await,
        "query_too_deep"
    );

    // Lists inside lists inside lists multiply: refused, as graphql-js refuses them.
    let multiplying =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    assert_eq!(
        server.code(None, multiplying, json!({})).await,
        "introspection_too_deep"
    );
    // An introspection query over the cost limit is refused like any other.
    let costly = format!(
        "{{ {} }}",
        (0..1_000)
            .map(|n| format!("t{n}: __type(name: \"Query\") {{ name kind }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(
        server.code(None, &costly, json!({})).await,
        "query_cost_exceeded"
    );
}
