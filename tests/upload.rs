//! HTTP File Upload (XEP-0363) end to end: slots asked for over /rest (as any client's iq),
//! files PUT to and fetched from the HTTP listener with reqwest, the CLI purge.

mod common;

use std::process::Command;

use common::{PASSWORD, TestServer, http};
use minidom::Element;
use reqwest::StatusCode;
use switchboard_xmpp::stanza::parse_in_stream;

const UPLOAD_NS: &str = "urn:xmpp:http:upload:0";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Sends `iq` as `user` over /rest and returns the reply stanza.
async fn iq(server: &TestServer, user: &str, iq: &str) -> Element {
    let response = http()
        .post(server.url("/rest"))
        .basic_auth(user, Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(iq.to_owned())
        .send()
        .await
        .unwrap();
    parse_in_stream(&response.text().await.unwrap()).unwrap()
}

fn request(name: &str, size: usize, content_type: &str) -> String {
    format!(
        "<iq type='get' to='upload.localhost' id='s'><request xmlns='{UPLOAD_NS}' \
         filename='{name}' size='{size}' content-type='{content_type}'/></iq>"
    )
}

/// A granted slot's PUT and GET URLs.
async fn slot(
    server: &TestServer,
    user: &str,
    name: &str,
    size: usize,
    ty: &str,
) -> (String, String) {
    let reply = iq(server, user, &request(name, size, ty)).await;
    assert_eq!(
        reply.attr("type"),
        Some("result"),
        "{}",
        String::from(&reply)
    );
    let slot = reply.get_child("slot", UPLOAD_NS).unwrap();
    let put = slot
        .get_child("put", UPLOAD_NS)
        .unwrap()
        .attr("url")
        .unwrap();
    let get = slot
        .get_child("get", UPLOAD_NS)
        .unwrap()
        .attr("url")
        .unwrap();
    (put.to_owned(), get.to_owned())
}

fn condition(reply: &Element) -> String {
    let error = reply
        .get_child("error", "jabber:client")
        .expect("an error reply");
    error
        .children()
        .find(|c| c.ns() == STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap()
}

async fn put(url: &str, body: Vec<u8>, content_type: &str) -> reqwest::Response {
    http()
        .put(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_service_is_discovered_with_its_limit() {
    let server = TestServer::start_with(|c| c.upload.max_file_bytes = 5000).await;
    let items = iq(
        &server,
        "alice",
        "<iq type='get' to='localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    )
    .await;
    let listed: Vec<_> = items
        .get_child("query", "http://jabber.org/protocol/disco#items")
        .unwrap()
        .children()
        .filter_map(|i| i.attr("jid"))
        .collect();
    assert_eq!(listed, ["upload.localhost", "conference.localhost"]);
    let info = iq(
        &server,
        "alice",
        "<iq type='get' to='upload.localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    let xml = String::from(&info);
    assert!(xml.contains("category='store'"), "{xml}");
    assert!(xml.contains("type='file'"), "{xml}");
    assert!(xml.contains(&format!("var='{UPLOAD_NS}'")), "{xml}");
    assert!(xml.contains("<value>5000</value>"), "{xml}");
    server.stop().await;
}

#[tokio::test]
async fn a_file_goes_up_once_and_comes_down_whole_or_in_ranges() {
    let server = TestServer::start().await;
    let content: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (put_url, get_url) = slot(
        &server,
        "alice",
        "report 1.pdf",
        content.len(),
        "application/pdf",
    )
    .await;
    assert!(get_url.starts_with(&server.url("/upload/")), "{get_url}");
    assert!(get_url.ends_with("/report%201.pdf"), "{get_url}");
    // Not there before its PUT.
    assert_eq!(
        http().get(&get_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // Above the default 2 MiB body limits: the body is streamed to disk.
    let response = put(&put_url, content.clone(), "application/pdf").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let again = put(&put_url, content.clone(), "application/pdf").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let response = http().get(&get_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["content-length"], content.len().to_string().as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"report 1.pdf\"; filename*=UTF-8''report%201.pdf"
    );
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age="));
    assert!(h.contains_key("last-modified"));
    assert_eq!(h["access-control-allow-origin"], "*");
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.bytes().await.unwrap(), content);

    let head = http().head(&get_url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        content.len().to_string().as_str()
    );
    assert!(head.bytes().await.unwrap().is_empty());

    let part = http()
        .get(&get_url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{}", content.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), content[10..20]);
    let tail = http()
        .get(&get_url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.unwrap(), content[content.len() - 5..]);
    let beyond = http()
        .get(&get_url)
        .header("Range", format!("bytes={}-", content.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{}", content.len()).as_str()
    );
    let cached = http()
        .get(&get_url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // Another name under the same id is no file.
    let renamed = get_url.replace("report%201.pdf", "other.pdf");
    assert_eq!(
        http().get(&renamed).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn images_are_shown_inline() {
    let server = TestServer::start().await;
    let (put_url, get_url) = slot(&server, "bob", "cat.png", 4, "image/png").await;
    assert_eq!(
        put(&put_url, b"\x89PNG".to_vec(), "image/png")
            .await
            .status(),
        StatusCode::CREATED
    );
    let response = http().get(&get_url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );
    server.stop().await;
}

#[tokio::test]
async fn puts_must_match_their_signed_slot() {
    let server = TestServer::start().await;
    let (put_url, get_url) = slot(&server, "alice", "a.txt", 5, "text/plain").await;
    let forged = format!("{}x", &put_url[..put_url.len() - 1]);
    assert_eq!(
        put(&forged, b"hello".to_vec(), "text/plain").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&get_url, b"hello".to_vec(), "text/plain")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&put_url, b"hello!".to_vec(), "text/plain")
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        put(&put_url, b"hell".to_vec(), "text/plain").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put(&put_url, b"hello".to_vec(), "text/html").await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // Nothing of the refused attempts was kept: the right PUT still goes through.
    assert_eq!(
        put(&put_url, b"hello".to_vec(), "text/plain; charset=utf-8")
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        http()
            .get(&get_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello"
    );
    server.stop().await;
}

#[tokio::test]
async fn slot_requests_are_checked_against_limits_and_quota() {
    let server = TestServer::start_with(|c| {
        c.upload.max_file_bytes = 1000;
        c.upload.quota_bytes = 1500;
    })
    .await;
    let reply = iq(
        &server,
        "alice",
        &request("big.bin", 1001, "application/octet-stream"),
    )
    .await;
    assert_eq!(condition(&reply), "not-acceptable");
    let max = reply
        .get_child("error", "jabber:client")
        .and_then(|e| e.get_child("file-too-large", UPLOAD_NS))
        .and_then(|f| f.get_child("max-file-size", UPLOAD_NS))
        .unwrap();
    assert_eq!(max.text(), "1000");
    for bad in [
        request("../etc/passwd", 10, "text/plain"),
        request("a.txt", 10, "not a type"),
    ] {
        let reply = iq(&server, "alice", &bad).await;
        assert_eq!(condition(&reply), "not-acceptable", "{bad}");
    }
    // Open slots count against the quota; another account has its own.
    slot(
        &server,
        "alice",
        "one.bin",
        1000,
        "application/octet-stream",
    )
    .await;
    let reply = iq(
        &server,
        "alice",
        &request("two.bin", 501, "application/octet-stream"),
    )
    .await;
    assert_eq!(condition(&reply), "resource-constraint");
    slot(&server, "alice", "two.bin", 500, "application/octet-stream").await;
    slot(&server, "bob", "two.bin", 1000, "application/octet-stream").await;
    server.stop().await;
}

#[tokio::test]
async fn browsers_may_put_from_another_origin() {
    let server = TestServer::start().await;
    let (put_url, _) = slot(&server, "alice", "a.txt", 1, "text/plain").await;
    let preflight = http()
        .request(reqwest::Method::OPTIONS, &put_url)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Content-Type")
    );
    server.stop().await;
}

#[tokio::test]
async fn slot_urls_follow_the_public_url() {
    let server =
        TestServer::start_with(|c| c.upload.public_url = Some("https://files.example/base".into()))
            .await;
    let (put_url, get_url) = slot(&server, "alice", "a.txt", 1, "text/plain").await;
    assert!(
        get_url.starts_with("https://files.example/base/upload/"),
        "{get_url}"
    );
    assert!(put_url.starts_with(&format!("{get_url}?sig=")), "{put_url}");
    server.stop().await;
}

#[tokio::test]
async fn the_purge_command_deletes_old_files() {
    let server = TestServer::start().await;
    let (put_url, get_url) = slot(&server, "alice", "a.txt", 2, "text/plain").await;
    assert_eq!(
        put(&put_url, b"hi".to_vec(), "text/plain").await.status(),
        StatusCode::CREATED
    );
    let data = server.dir.path();
    let run = |days: &str| {
        let mut c = Command::new(BIN);
        for (var, _) in std::env::vars() {
            if var.starts_with("SWITCHBOARD_") {
                c.env_remove(var);
            }
        }
        let out = c
            .current_dir(data)
            .env("SWITCHBOARD_DATA_DIR", data)
            .args(["upload", "purge", "--older-than", days])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("1"), "0 uploads deleted\n");
    assert_eq!(
        http().get(&get_url).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(run("0"), "1 uploads deleted\n");
    assert_eq!(
        http().get(&get_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        std::fs::read_dir(data.join("uploads"))
            .unwrap()
            .next()
            .is_none()
    );
    server.stop().await;
}
