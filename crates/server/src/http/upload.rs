//! HTTP File Upload's routes (XEP-0363 §5): `PUT` to a signed slot URL streams the body to a
//! file under the data directory; `GET`/`HEAD` serve it with its type, ranges and cache headers.
//!
//! No credentials: the slot URL's signature (PUT) and its unguessable id (GET) are the grant.

use std::io::SeekFrom;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, RANGE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use switchboard_xmpp::rest_error::RestError;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::error::HttpError;
use super::state::AppState;
use crate::storage::Upload;
use crate::uploads::{SIGNATURE_PARAM, Uploads};

/// Types shown in the browser rather than downloaded: raster images only (an SVG can carry
/// scripts).
const INLINE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
];

/// Characters percent-encoded in `filename*` (RFC 8187 attr-char kept).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

pub fn routes() -> Router<AppState> {
    Router::new().route("/upload/{id}/{name}", get(download).put(upload))
}

#[derive(Deserialize)]
struct Signed {
    sig: Option<String>,
}

fn uploads(app: &AppState) -> Result<&Uploads, HttpError> {
    app.uploads()
        .ok_or_else(|| HttpError::not_found("no uploads are served here"))
}

/// The upload `id` named `name`, if it exists.
async fn find(app: &AppState, id: &str, name: &str) -> Result<Upload, HttpError> {
    let missing = || HttpError::not_found("no such file");
    let upload = app.upload(id).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read an upload");
        HttpError::internal()
    })?;
    upload.filter(|u| u.filename == name).ok_or_else(missing)
}

/// Removes a partial file unless the upload completed (also when the client goes away and the
/// handler is dropped mid-body).
struct Partial {
    path: PathBuf,
    keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn upload(
    State(app): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let uploads = uploads(&app)?.clone();
    let upload = find(&app, &id, &name).await?;
    let signature = signed.sig.unwrap_or_default();
    if !uploads.verify(&upload, &signature) {
        return Err(HttpError::forbidden(format!(
            "the URL's '{SIGNATURE_PARAM}' is not this slot's signature"
        )));
    }
    if upload.completed_at.is_some() {
        return Err(HttpError::new(
            super::error::Kind::Conflict,
            "this slot's file was already uploaded",
        ));
    }
    if app.now_ms() > upload.slot_expires_at {
        return Err(HttpError::forbidden(
            "this slot has expired: ask for a new one",
        ));
    }
    check_headers(&headers, &upload)?;
    tokio::fs::create_dir_all(uploads.dir())
        .await
        .map_err(io_error)?;
    let path = uploads.partial(&upload.id);
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await;
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(HttpError::new(
                super::error::Kind::Conflict,
                "this slot's file is being uploaded",
            ));
        }
        Err(e) => return Err(io_error(e)),
    };
    let mut partial = Partial { path, keep: false };
    let mut body = body;
    let mut received: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(app.body_timeout, body.frame()).await {
            Err(_) => {
                return Err(HttpError::from(RestError::BodyTimeout)
                    .with_detail(format!("no data for {} s", app.body_timeout.as_secs())));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(HttpError::bad_request(format!(
                    "malformed request body: {e}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > upload.size {
            return Err(HttpError::from(RestError::Size)
                .with_detail(format!("the slot is for {} bytes", upload.size)));
        }
        file.write_all(&data).await.map_err(io_error)?;
    }
    if received != upload.size {
        return Err(HttpError::bad_request(format!(
            "received {received} bytes, the slot is for {}",
            upload.size
        )));
    }
    file.sync_all().await.map_err(io_error)?;
    drop(file);
    tokio::fs::rename(&partial.path, uploads.file(&upload.id))
        .await
        .map_err(io_error)?;
    partial.keep = true;
    match app.complete_upload(&upload.id).await {
        Ok(true) => {
            tracing::info!(id = %upload.id, user = %upload.user, size = upload.size, "file uploaded");
            Ok(StatusCode::CREATED.into_response())
        }
        Ok(false) => Err(HttpError::new(
            super::error::Kind::Conflict,
            "this slot's file was already uploaded",
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot complete an upload");
            Err(HttpError::internal())
        }
    }
}

/// XEP-0363 §5: the announced size and type must be the slot's.
fn check_headers(headers: &HeaderMap, upload: &Upload) -> Result<(), HttpError> {
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        let length: u64 = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| HttpError::bad_request("malformed Content-Length"))?;
        if length > upload.size {
            return Err(HttpError::from(RestError::Size)
                .with_detail(format!("the slot is for {} bytes", upload.size)));
        }
        if length != upload.size {
            return Err(HttpError::bad_request(format!(
                "Content-Length is {length}, the slot is for {} bytes",
                upload.size
            )));
        }
    }
    if let Some(sent) = headers.get(CONTENT_TYPE) {
        let essence = sent
            .to_str()
            .ok()
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if essence.as_deref() != Some(upload.content_type.as_str()) {
            return Err(HttpError::from(RestError::MediaType).with_detail(format!(
                "the slot is for Content-Type {}",
                upload.content_type
            )));
        }
    }
    Ok(())
}

fn io_error(e: std::io::Error) -> HttpError {
    tracing::error!(error = %e, "upload storage failed");
    HttpError::internal()
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No range, or one this server answers with the whole file (several ranges, another unit,
    /// bad syntax: RFC 9110 §14.2 lets a server ignore it).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// No byte of the range is in the file (416).
    Unsatisfiable,
}

fn ranged(header: Option<&HeaderValue>, len: u64) -> Ranged {
    let Some(spec) = header
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.trim().strip_prefix("bytes="))
    else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // A suffix: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if start >= len {
                return Ranged::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            if end < start {
                Ranged::Whole
            } else {
                Ranged::Part { start, end }
            }
        }
        _ => Ranged::Whole,
    }
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `inline` for raster images, `attachment` otherwise, with the name in both RFC 6266 forms.
fn disposition(upload: &Upload) -> HeaderValue {
    let kind = if INLINE_TYPES.contains(&upload.content_type.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = upload
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(&upload.filename, ATTR_CHAR);
    header(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
}

async fn download(
    State(app): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let uploads = uploads(&app)?.clone();
    let upload = find(&app, &id, &name).await?;
    let Some(completed_at) = upload.completed_at else {
        return Err(HttpError::not_found("no such file"));
    };
    let mut file = match tokio::fs::File::open(uploads.file(&upload.id)).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HttpError::not_found("no such file"));
        }
        Err(e) => return Err(io_error(e)),
    };
    let len = file.metadata().await.map_err(io_error)?.len();
    let etag = format!("\"{}\"", upload.id);
    let mut h = HeaderMap::new();
    h.insert(ETAG, header(&etag));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The file behind a URL never changes; it may only expire.
    let max_age = match app.upload_expiry_days() {
        0 => 365 * 86_400,
        days => u64::from(days) * 86_400,
    };
    h.insert(
        CACHE_CONTROL,
        header(&format!("public, max-age={max_age}, immutable")),
    );
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(completed_at).unwrap_or(0));
    h.insert(LAST_MODIFIED, header(&httpdate::fmt_http_date(modified)));
    let not_modified = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(CONTENT_TYPE, header(&upload.content_type));
    h.insert(CONTENT_DISPOSITION, disposition(&upload));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    let (status, start, count) = match ranged(headers.get(RANGE), len) {
        Ranged::Whole => (StatusCode::OK, 0, len),
        Ranged::Part { start, end } => {
            h.insert(CONTENT_RANGE, header(&format!("bytes {start}-{end}/{len}")));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Ranged::Unsatisfiable => {
            h.insert(CONTENT_RANGE, header(&format!("bytes */{len}")));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h).into_response());
        }
    };
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await.map_err(io_error)?;
    }
    let body = Body::from_stream(ReaderStream::new(file.take(count)));
    Ok((status, h, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: u64) -> Ranged {
        ranged(Some(&HeaderValue::from_str(value).unwrap()), len)
    }

    #[test]
    fn single_byte_ranges_are_served_and_others_ignored() {
        assert_eq!(ranged(None, 10), Ranged::Whole);
        assert_eq!(range("bytes=0-3", 10), Ranged::Part { start: 0, end: 3 });
        assert_eq!(range("bytes=4-", 10), Ranged::Part { start: 4, end: 9 });
        assert_eq!(range("bytes=-3", 10), Ranged::Part { start: 7, end: 9 });
        assert_eq!(range("bytes=-30", 10), Ranged::Part { start: 0, end: 9 });
        assert_eq!(range("bytes=5-100", 10), Ranged::Part { start: 5, end: 9 });
        assert_eq!(range("bytes=10-", 10), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Ranged::Unsatisfiable);
        for ignored in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=x-1",
            "bytes=5-2",
            "bytes=-",
        ] {
            assert_eq!(range(ignored, 10), Ranged::Whole, "{ignored}");
        }
    }

    fn named(filename: &str, content_type: &str) -> Upload {
        Upload {
            id: "i".into(),
            user: "u".into(),
            filename: filename.into(),
            size: 1,
            content_type: content_type.into(),
            created_at: 0,
            slot_expires_at: 0,
            completed_at: Some(0),
        }
    }

    #[test]
    fn images_show_inline_and_the_rest_downloads() {
        assert_eq!(
            disposition(&named("cat.png", "image/png")),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            disposition(&named("x.svg", "image/svg+xml")),
            "attachment; filename=\"x.svg\"; filename*=UTF-8''x.svg"
        );
        assert_eq!(
            disposition(&named("é \"q\".txt", "text/plain")),
            "attachment; filename=\"_ _q_.txt\"; filename*=UTF-8''%C3%A9%20%22q%22.txt"
        );
    }
}
