//! The files of HTTP File Upload (XEP-0363) shared by the slot service and the HTTP routes:
//! where they live under the data directory, the signed slot URLs, and the purge of old files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::UploadConfig;
use crate::ctx::Ctx;
use crate::storage::{Store, StoreError, Upload};

/// The path under which the HTTP listener takes and serves uploaded files.
pub const ROUTE_PREFIX: &str = "/upload";
/// The query parameter carrying a PUT URL's signature.
pub const SIGNATURE_PARAM: &str = "sig";

const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Uploads deleted per store read during a purge.
const PURGE_BATCH: usize = 500;

/// Characters kept as they are in the file name segment of a URL (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Cheap to clone; every clone shares the key and the directory.
#[derive(Clone)]
pub struct Uploads {
    inner: Arc<Inner>,
}

struct Inner {
    key: Vec<u8>,
    dir: PathBuf,
    /// `scheme://host:port` of the HTTP listener, known once it is bound.
    listener: OnceLock<String>,
}

impl Uploads {
    /// Files under `data_dir/uploads`; slot URLs signed with a key derived from `secret`.
    pub fn new(data_dir: &Path, secret: &[u8]) -> Uploads {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"switchboard upload slots");
        Uploads {
            inner: Arc::new(Inner {
                key: mac.finalize().into_bytes().to_vec(),
                dir: dir(data_dir),
                listener: OnceLock::new(),
            }),
        }
    }

    /// Records the bound HTTP listener's base URL, used when `upload.public_url` is unset.
    pub fn set_listener(&self, base: String) {
        let _ = self.inner.listener.set(base);
    }

    /// Where a completed upload's bytes are.
    pub fn file(&self, id: &str) -> PathBuf {
        self.inner.dir.join(id)
    }

    /// Where an upload's bytes go while its PUT is in progress.
    pub fn partial(&self, id: &str) -> PathBuf {
        self.inner.dir.join(format!("{id}.part"))
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The PUT and GET URLs of a slot.
    pub fn urls(&self, config: &UploadConfig, upload: &Upload) -> (String, String) {
        let base = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => self.inner.listener.get().cloned().unwrap_or_default(),
        };
        let name = utf8_percent_encode(&upload.filename, SEGMENT);
        let get = format!("{base}{ROUTE_PREFIX}/{}/{name}", upload.id);
        let put = format!("{get}?{SIGNATURE_PARAM}={}", self.signature(upload));
        (put, get)
    }

    fn mac(&self, upload: &Upload) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.inner.key).expect("any key length");
        // Every field the PUT is checked against, each length-prefixed so none can run into
        // the next.
        for field in [
            upload.id.as_bytes(),
            upload.user.as_bytes(),
            upload.filename.as_bytes(),
            upload.content_type.as_bytes(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac.update(&upload.size.to_be_bytes());
        mac.update(&upload.slot_expires_at.to_be_bytes());
        mac
    }

    fn signature(&self, upload: &Upload) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(upload).finalize().into_bytes())
    }

    /// Whether `signature` is the one of `upload`'s slot (compared in constant time).
    pub fn verify(&self, upload: &Upload, signature: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(signature) {
            Ok(bytes) => self.mac(upload).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Deletes the files completed before `completed_before` (when given) and the slots whose PUT
/// window closed before `now` unused, with their bytes; returns how many uploads went.
pub async fn purge(
    store: &dyn Store,
    data_dir: &Path,
    completed_before: Option<i64>,
    now: i64,
) -> Result<usize, StoreError> {
    let dir = dir(data_dir);
    let mut purged = 0;
    loop {
        let ids = store
            .stale_uploads(completed_before, now, PURGE_BATCH)
            .await?;
        for id in &ids {
            // The file first: a row without a file is a 404, a file without a row would leak.
            for path in [dir.join(id), dir.join(format!("{id}.part"))] {
                if let Err(e) = tokio::fs::remove_file(&path).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete an upload");
                }
            }
            store.delete_upload(id).await?;
        }
        purged += ids.len();
        if ids.len() < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

/// The cutoff of `upload.expire_after_days` at `now` (Unix ms), if files expire.
pub fn expiry_cutoff(days: u32, now: i64) -> Option<i64> {
    (days > 0).then(|| now - i64::from(days) * 86_400_000)
}

/// Purges expired files and abandoned slots at start and then hourly, reading
/// `upload.expire_after_days` from the configuration in force each time.
pub fn spawn_purge(ctx: Ctx, shutdown: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        loop {
            let config = ctx.config();
            let now = ctx.now().timestamp_millis();
            let cutoff = expiry_cutoff(config.upload.expire_after_days, now);
            match purge(ctx.store().as_ref(), &config.data_dir, cutoff, now).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired uploads deleted"),
                Err(e) => tracing::error!(error = %e, "upload purge failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(PURGE_EVERY) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload() -> Upload {
        Upload {
            id: "abc".into(),
            user: "alice".into(),
            filename: "a b/é.txt".into(),
            size: 10,
            content_type: "text/plain".into(),
            created_at: 1,
            slot_expires_at: 2,
            completed_at: None,
        }
    }

    #[test]
    fn urls_are_signed_and_encoded() {
        let uploads = Uploads::new(Path::new("/d"), b"secret");
        uploads.set_listener("http://127.0.0.1:5280".into());
        let (put, get) = uploads.urls(&UploadConfig::default(), &upload());
        assert_eq!(get, "http://127.0.0.1:5280/upload/abc/a%20b%2F%C3%A9.txt");
        let signature = put.strip_prefix(&format!("{get}?sig=")).unwrap();
        assert!(uploads.verify(&upload(), signature));
        let config = UploadConfig {
            public_url: Some("https://chat.example/files/".into()),
            ..UploadConfig::default()
        };
        let (_, get) = uploads.urls(&config, &upload());
        assert!(get.starts_with("https://chat.example/files/upload/abc/"));
    }

    #[test]
    fn a_signature_holds_for_its_slot_and_key_only() {
        let uploads = Uploads::new(Path::new("/d"), b"secret");
        let (put, _) = uploads.urls(&UploadConfig::default(), &upload());
        let signature = put.rsplit_once("sig=").unwrap().1;
        let mut bigger = upload();
        bigger.size = 11;
        assert!(!uploads.verify(&bigger, signature));
        let mut later = upload();
        later.slot_expires_at = 3;
        assert!(!uploads.verify(&later, signature));
        let other = Uploads::new(Path::new("/d"), b"other secret");
        assert!(!other.verify(&upload(), signature));
        assert!(!uploads.verify(&upload(), "not base64!"));
        assert!(!uploads.verify(&upload(), ""));
    }

    #[test]
    fn expiry_is_off_at_zero_days() {
        assert_eq!(expiry_cutoff(0, 1_000_000_000), None);
        assert_eq!(
            expiry_cutoff(1, 100_000_000),
            Some(100_000_000 - 86_400_000)
        );
    }
}
