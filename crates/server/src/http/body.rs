//! Reading a request body, bounded in size and time: 413 only for size, 408 for a client too
//! slow to send it, 400 for a body that breaks HTTP framing (a malformed chunk).

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use switchboard_xmpp::rest_error::RestError;

use super::error::HttpError;

pub async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, HttpError> {
    // A declared length above the limit is refused without reading anything.
    if body.size_hint().lower() > limit as u64 {
        return Err(RestError::Size.into());
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(RestError::Size.into()),
        Ok(Err(e)) => {
            Err(HttpError::from(RestError::Parse)
                .with_detail(format!("malformed request body: {e}")))
        }
        Err(_) => Err(HttpError::from(RestError::BodyTimeout)
            .with_detail(format!("allowed {} s", timeout.as_secs()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    const SECOND: Duration = Duration::from_secs(1);

    fn kind(result: Result<Bytes, HttpError>) -> RestError {
        match result.unwrap_err().kind() {
            super::super::error::Kind::Rest(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn bodies_within_the_limit_are_read() {
        let bytes = read_body(Body::from("hello"), 5, SECOND).await.unwrap();
        assert_eq!(&bytes[..], b"hello");
    }

    #[tokio::test]
    async fn only_size_is_413() {
        assert_eq!(
            kind(read_body(Body::from("hello!"), 5, SECOND).await),
            RestError::Size
        );
        // Streamed without a length: counted as it arrives.
        let chunks = stream::iter(["abc", "def"].map(|c| Ok::<_, std::io::Error>(Bytes::from(c))));
        let streamed = Body::from_stream(chunks);
        assert_eq!(kind(read_body(streamed, 5, SECOND).await), RestError::Size);
        // A body that fails mid-way (a malformed chunk, a reset) is a bad request.
        let broken = stream::iter([
            Ok(Bytes::from("ab")),
            Err(std::io::Error::other("invalid chunk size")),
        ]);
        let result = read_body(Body::from_stream(broken), 100, SECOND).await;
        let error = result.unwrap_err();
        assert_eq!(
            error.kind(),
            super::super::error::Kind::Rest(RestError::Parse)
        );
        assert!(
            error.text().contains("invalid chunk size"),
            "{}",
            error.text()
        );
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        let endless = stream::pending::<Result<Bytes, std::io::Error>>();
        let result = read_body(Body::from_stream(endless), 100, Duration::from_millis(50)).await;
        assert_eq!(kind(result), RestError::BodyTimeout);
    }
}
