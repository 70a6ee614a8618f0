//! The served OpenAPI document matches the implementation: every route the HTTP router
//! registers is described, and every described operation is answered (never 404/405).

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Paths registered with `.route("…", …)` in the HTTP modules, read from their source so that
/// a new route cannot be added without this test seeing it. The client and admin APIs' modules
/// register paths under the prefix they are nested at.
fn registered_routes() -> Vec<String> {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/server/src/http");
    let mut routes = Vec::new();
    for (dir, prefix) in [
        ("", ""),
        ("/client_api", "/api"),
        ("/admin_api", "/api/admin"),
    ] {
        for entry in std::fs::read_dir(format!("{base}{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split(".route(\"").skip(1) {
                if let Some(end) = piece.find('"') {
                    routes.push(format!("{prefix}{}", &piece[..end]));
                }
            }
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

/// Whether an axum route template (`{x}` one segment, `{*x}` the rest) can serve a path of
/// the document (`{x}` one segment).
fn route_serves(route: &str, documented: &str) -> bool {
    let r: Vec<&str> = route.trim_end_matches('/').split('/').collect();
    let d: Vec<&str> = documented.trim_end_matches('/').split('/').collect();
    for (i, seg) in r.iter().enumerate() {
        if seg.starts_with("{*") {
            return d.len() >= i;
        }
        match d.get(i) {
            Some(ds) if seg == ds || (seg.starts_with('{') && ds.starts_with('{')) => {}
            _ => return false,
        }
    }
    r.len() == d.len()
}

/// The path of a file uploaded by alice (XEP-0363), `/upload/<id>/<name>`.
async fn uploaded_file(server: &TestServer) -> String {
    let slot = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(
            "<iq type='get' to='upload.localhost' id='u'><request xmlns='urn:xmpp:http:upload:0' \
             filename='a.txt' size='2' content-type='text/plain'/></iq>",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let url = |tag: &str| {
        let start = slot.find(&format!("<{tag} url='")).unwrap() + tag.len() + 7;
        let end = start + slot[start..].find('\'').unwrap();
        slot[start..end].replace("&amp;", "&")
    };
    let put = http()
        .put(url("put"))
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    url("get").trim_start_matches(&server.url("")).to_owned()
}

/// Which document describes a route: the client and admin APIs have their own.
fn document_of(route: &str) -> &'static str {
    if route == "/api" || route.starts_with("/api/") {
        "/api/openapi.json"
    } else {
        "/rest/openapi.json"
    }
}

async fn document(server: &TestServer, path: &str) -> Value {
    let response = reqwest::get(server.url(path)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_registered_route_is_described() {
    let server = TestServer::start().await;
    let routes = registered_routes();
    assert!(routes.contains(&"/rest".to_string()), "{routes:?}");
    assert!(routes.contains(&"/api/messages".to_string()), "{routes:?}");
    assert!(
        routes.contains(&"/api/admin/users/{host}".to_string()),
        "{routes:?}"
    );
    for name in ["/rest/openapi.json", "/api/openapi.json"] {
        let doc = document(&server, name).await;
        assert_eq!(doc["openapi"], "3.1.0");
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        for route in routes.iter().filter(|r| document_of(r) == name) {
            assert!(
                paths.iter().any(|p| route_serves(route, p)),
                "route {route} is not described in {name} (paths: {paths:?})"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn every_described_operation_is_answered() {
    let server = TestServer::start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // A real file, so that its routes answer for something that exists.
    let upload = uploaded_file(&server).await;
    let mut paths = Vec::new();
    for name in ["/rest/openapi.json", "/api/openapi.json"] {
        let doc = document(&server, name).await;
        paths.extend(doc["paths"].as_object().unwrap().clone());
    }
    for (path, item) in &paths {
        let concrete = path
            .replace("/upload/{id}/{name}", &upload)
            .replace("{kind}", "message")
            .replace("{type}", "chat")
            .replace("{payload}", "ping")
            .replace("{to}", "localhost")
            .replace("{jid}", "bob")
            .replace("{command}", "uptime")
            .replace("{with}", "bob@localhost")
            .replace("{host}", "localhost")
            .replace("{user}", "alice")
            .replace("{owner}", "alice")
            .replace("{contact}", "bob@localhost")
            .replace("{resource}", "phone")
            .replace("{id}", "d1");
        for method in item.as_object().unwrap().keys() {
            let request = match method.as_str() {
                "get" => http.get(server.url(&concrete)),
                "post" => http.post(server.url(&concrete)),
                "put" => http.put(server.url(&concrete)),
                "delete" => http.delete(server.url(&concrete)),
                "options" => http.request(reqwest::Method::OPTIONS, server.url(&concrete)),
                other => panic!("unexpected method {other} in the document"),
            };
            let status = request.send().await.unwrap().status();
            assert!(
                status != 404 && status != 405,
                "{method} {concrete} is described but answers {status}"
            );
        }
    }
    server.stop().await;
}
