//! Files served from the binary itself: the pages' stylesheet and GraphiQL's pinned
//! production builds (`apps/graphql/assets/graphiql/VERSIONS`). Nothing is fetched from a
//! CDN at run time.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use maud::{DOCTYPE, html};

use crate::state::App;

/// Where the stylesheet is served; versioned by content so it can be cached forever.
pub const STYLESHEET: &str = "/assets/bazaar-2.css";
/// Where GraphiQL's files are served.
const GRAPHIQL: &str = "/assets/graphiql-3.8.3";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 6] = [
    Asset {
        path: STYLESHEET,
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/bazaar.css"),
    },
    Asset {
        path: "/assets/graphiql-3.8.3/graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        path: "/assets/graphiql-3.8.3/graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        path: "/assets/graphiql-3.8.3/react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        path: "/assets/graphiql-3.8.3/react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        path: "/assets/graphiql-3.8.3/graphiql-init.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql-init.js"),
    },
];

pub fn routes(config: &mut web::ServiceConfig) {
    for asset in &ASSETS {
        config.route(
            asset.path,
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type(asset.content_type)
                    .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
                    .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .body(asset.body)
            }),
        );
    }
}

/// GraphiQL, from this server's own copies of its files; 404 unless enabled.
pub async fn graphiql_page(app: web::Data<Arc<App>>) -> HttpResponse {
    if !app.config.graphiql {
        return HttpResponse::NotFound().finish();
    }
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "GraphiQL · Bazaar" }
                link rel="stylesheet" href=(format!("{GRAPHIQL}/graphiql.min.css"));
                style { "body { margin: 0; } #graphiql { height: 100vh; }" }
            }
            body {
                div #graphiql { "Loading…" }
                script src=(format!("{GRAPHIQL}/react.production.min.js")) {}
                script src=(format!("{GRAPHIQL}/react-dom.production.min.js")) {}
                script src=(format!("{GRAPHIQL}/graphiql.min.js")) {}
                script src=(format!("{GRAPHIQL}/graphiql-init.js")) {}
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // GraphiQL styles its editors inline and draws icons as data URLs.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(page.into_string())
}
