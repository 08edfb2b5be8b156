// The web pages over plain HTTP: the cookies' attributes, the pages' security headers, a
// sign-in posted from another site or without its token refused, assets served pinned.

use super::support::{PASSWORD, Server};

/// The CSRF token a page's form carries.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[start..start + 64].to_owned()
}

fn cookie_of(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn sign_in_sets_a_locked_down_cookie_and_refuses_forged_forms() {
    let server = Server::start(&[]).await;
    server
        .sign_up("s@shop.test", "SELLER", "DE", Some("EUR"))
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/sign-in", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let pre = cookie_of(&page, "bazaar_sign_in");
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Lax"),
        "{pre}"
    );
    assert!(!pre.contains("Secure"), "loopback serves plain HTTP: {pre}");
    let pre_value = pre.split(';').next().unwrap().to_owned();
    let token = csrf_of(&page.text().await.unwrap());
    let form = |csrf: &str| {
        vec![
            ("email", "s@shop.test".to_owned()),
            ("password", PASSWORD.to_owned()),
            ("csrf", csrf.to_owned()),
        ]
    };
    let post = |csrf: String, origin: Option<&'static str>| {
        let mut request = client
            .post(format!("{}/sign-in", server.base))
            .header("cookie", pre_value.clone())
            .form(&form(&csrf));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    // Without the token, with another's, or from another site: refused, no session.
    for (csrf, origin) in [
        (String::new(), None),
        ("0".repeat(64), None),
        (token.clone(), Some("http://evil.test")),
    ] {
        let refused = post(csrf, origin).await.unwrap();
        assert_eq!(refused.status(), 403);
        assert!(
            refused
                .headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("bazaar_session="))
        );
    }

    // With it, the session cookie is HttpOnly and SameSite=Lax, and opens the dashboard.
    let origin = server.base.clone();
    let signed = client
        .post(format!("{}/sign-in", server.base))
        .header("cookie", pre_value.clone())
        .header("origin", origin)
        .form(&form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/dashboard");
    let session = cookie_of(&signed, "bazaar_session");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    let session_value = session.split(';').next().unwrap().to_owned();
    let dashboard = client
        .get(format!("{}/dashboard", server.base))
        .header("cookie", session_value.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);
    assert_eq!(dashboard.headers()["cache-control"], "no-store");

    // A form of the session without its token is refused.
    let forged = client
        .post(format!("{}/dashboard/schedule", server.base))
        .header("cookie", session_value)
        .form(&[
            ("interval", "manual"),
            ("delay_days", "0"),
            ("minimum", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn assets_are_served_pinned_and_cacheable() {
    let server = Server::start(&[]).await;
    for path in [
        "/assets/bazaar-2.css",
        "/assets/graphiql-3.8.3/graphiql.min.js",
        "/assets/graphiql-3.8.3/react.production.min.js",
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    let graphiql = server.get("/graphql").await;
    let html = graphiql.text().await.unwrap();
    assert!(html.contains("/assets/graphiql-3.8.3/graphiql.min.js"));
    assert!(!html.contains("unpkg") && !html.contains("cdn"), "{html}");
}
