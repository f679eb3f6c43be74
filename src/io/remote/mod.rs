//! Objects in S3, Google Cloud Storage, Azure Blob Storage and behind HTTP(S), read by byte
//! ranges through the `object_store` crate.
//!
//! An [`Object`] is opened with one `HEAD` request (its length and ETag); its bytes come by
//! ranged `GET`s, each checked: a body shorter than its range is retried, and an object whose
//! ETag changed since it was opened (replaced while it was read) is an error, never bytes of
//! two versions. Requests run on one small runtime shared by the process ([`runtime`]) so that
//! a reader can keep several in flight while its workers inflate.
//!
//! Settings come from the environment as each store's own tools read it (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`) and from storage options (`key=value`, as polars and pyarrow take
//! them; the keys are `object_store`'s, plus rawarrow's own [`FETCH_BYTES`],
//! [`FETCH_CONCURRENCY`] and [`RETRIES`]). No credential is ever put in a message: URLs are
//! shown without their user information and query.

use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, ObjectStoreScheme};

/// Storage option: bytes per ranged request of a whole-object read (default 8 MiB).
pub(crate) const FETCH_BYTES: &str = "fetch_bytes";
/// Storage option: ranged requests in flight at once for a whole-object read (default 8).
pub(crate) const FETCH_CONCURRENCY: &str = "fetch_concurrency";
/// Storage option: how often a failed request is tried again, with backoff (default 5).
pub(crate) const RETRIES: &str = "retries";

/// Whether `path` is a URL this module reads (`scheme://...`), not a local path.
pub(crate) fn is_url(path: &std::path::Path) -> bool {
    let Some(s) = path.to_str() else { return false };
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'.' || b == b'-')
}

/// `url` as it may be shown: without user information (`user:password@`) and query (a
/// presigned URL's signature, an Azure SAS token).
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// The process's runtime for object requests: two worker threads, started on first use.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rawarrow-fetch")
            .enable_all()
            .build()
            .expect("the object store runtime starts (threads and timers)")
    })
}

/// Makes ring the process's TLS crypto provider, once, before the first HTTP client is built
/// (aws-lc, the other provider, builds a C library with cmake; ring's provider is deprecated
/// only for lacking post-quantum key exchange). One another library installed first is kept.
fn tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Storage settings of a remote input: `object_store`'s options and rawarrow's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `object_store` configuration keys and values (credentials, endpoint, region, timeouts).
    options: Vec<(String, String)>,
    /// Bytes per request of a whole-object read.
    pub(crate) fetch_bytes: u64,
    /// Requests in flight for a whole-object read.
    pub(crate) concurrency: usize,
    /// Retries of a failed request.
    pub(crate) retries: usize,
    /// The AWS profile an option named.
    profile: Option<String>,
}

impl Settings {
    /// Reads `options` (`key`, `value`): rawarrow's own keys are taken out, the rest go to the
    /// store. A bad value of one of ours is an error naming it.
    pub(crate) fn new(options: &[(String, String)]) -> Result<Self, String> {
        let mut s = Self {
            options: Vec::new(),
            fetch_bytes: 8 << 20,
            concurrency: 8,
            retries: 5,
            profile: None,
        };
        for (k, v) in options {
            let number = || -> Result<u64, String> {
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0 || k == RETRIES)
                    .ok_or_else(|| format!("storage option {k}={v:?}: a positive integer expected"))
            };
            match k.to_ascii_lowercase().as_str() {
                FETCH_BYTES => s.fetch_bytes = number()?.max(4096),
                FETCH_CONCURRENCY => s.concurrency = number()? as usize,
                RETRIES => s.retries = number()? as usize,
                profile::AWS_PROFILE => s.profile = Some(v.clone()),
                _ => s.options.push((k.to_ascii_lowercase(), v.clone())),
            }
        }
        Ok(s)
    }

    fn retry(&self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            max_retries: self.retries,
            retry_timeout: Duration::from_secs(120),
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
        }
    }

    /// The store serving `url`, configured from the environment and the options.
    fn store(&self, url: &url::Url) -> Result<(Arc<dyn ObjectStore>, ObjectPath), String> {
        tls();
        let (scheme, path) = ObjectStoreScheme::parse(url).map_err(|e| e.to_string())?;
        let unknown = |k: &str| format!("unknown storage option {k:?} for a {scheme:?} URL");
        macro_rules! cloud {
            ($builder:ty, $profile:expr) => {{
                let mut b = <$builder>::from_env().with_url(url.as_str());
                for (k, v) in $profile.iter().chain(&self.options) {
                    b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
                }
                let built = b.with_retry(self.retry()).build();
                Arc::new(built.map_err(|e| e.to_string())?)
            }};
        }
        let store: Arc<dyn ObjectStore> = match scheme {
            // The three cloud builders take the same steps: the environment, the URL, (for
            // S3) the profile files, the options (each parsed as that store's key), the
            // retries.
            ObjectStoreScheme::AmazonS3 => {
                let env = |k: &str| std::env::var(k).ok();
                let profile = profile::options(&env, self.profile.as_deref())?;
                cloud!(object_store::aws::AmazonS3Builder, profile)
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                cloud!(object_store::gcp::GoogleCloudStorageBuilder, [])
            }
            ObjectStoreScheme::MicrosoftAzure => {
                cloud!(object_store::azure::MicrosoftAzureBuilder, [])
            }
            ObjectStoreScheme::Http => {
                let base = &url[..url::Position::BeforePath];
                let mut client = object_store::ClientOptions::new().with_allow_http(true);
                for (k, v) in &self.options {
                    client = client.with_config(k.parse().map_err(|_| unknown(k))?, v);
                }
                Arc::new(
                    object_store::http::HttpBuilder::new()
                        .with_url(base)
                        .with_client_options(client)
                        .with_retry(self.retry())
                        .build()
                        .map_err(|e| e.to_string())?,
                )
            }
            other => return Err(format!("{other:?} URLs are not read (use a local path)")),
        };
        Ok((store, path))
    }
}

/// A failed request: the URL (redacted), the byte range and the cause.
#[derive(Debug, Clone)]
pub(crate) struct FetchError {
    url: String,
    range: Option<Range<u64>>,
    cause: String,
    /// The caller's mistake (an option, the URL), not the store's.
    usage: bool,
}

impl FetchError {
    /// The message without the URL.
    pub(crate) fn reason(&self) -> String {
        match &self.range {
            Some(r) => format!(
                "bytes {}-{}: {}",
                r.start,
                r.end.saturating_sub(1),
                self.cause
            ),
            None => self.cause.clone(),
        }
    }

    /// What the caller asked wrongly (a bad storage option, not a URL), if that is the cause.
    pub(crate) fn usage(&self) -> Option<&str> {
        self.usage.then_some(self.cause.as_str())
    }

    /// Whether the object is not there (404, no such key).
    pub(crate) fn not_found(&self) -> bool {
        self.cause.starts_with(NOT_FOUND)
    }
}

const NOT_FOUND: &str = "not found";

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.url, self.reason())
    }
}

impl std::error::Error for FetchError {}

impl From<FetchError> for std::io::Error {
    /// The error without the URL (the error it goes into names it).
    fn from(e: FetchError) -> Self {
        let kind = if e.not_found() {
            std::io::ErrorKind::NotFound
        } else {
            std::io::ErrorKind::Other
        };
        std::io::Error::new(kind, e.reason())
    }
}

/// `message` with the query of every URL in it cut off (a presigned URL's signature, an Azure
/// SAS token): `object_store`'s messages name the request's URL.
fn scrub(message: &str) -> String {
    message
        .split(' ')
        .map(|word| match (word.contains("://"), word.find('?')) {
            (true, Some(q)) => &word[..q],
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An object opened for reading: its store, length and ETag when it was opened.
pub(crate) struct Object {
    url: String,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    len: u64,
    etag: Option<String>,
    settings: Settings,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("url", &self.url)
            .field("len", &self.len)
            .field("etag", &self.etag)
            .finish()
    }
}

/// What an object store error says, without anything secret (`object_store` errors name the
/// store and path, never credentials) and without repeating the path.
fn cause(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { .. } => NOT_FOUND.into(),
        object_store::Error::Precondition { .. } => REPLACED.into(),
        object_store::Error::Generic { source, .. } => scrub(&source.to_string()),
        other => scrub(&other.to_string()),
    }
}

const REPLACED: &str = "the object was replaced while it was read (its ETag changed)";

impl Object {
    /// Opens the object at `url` (one `HEAD` request).
    pub(crate) fn open(url: &str, settings: &Settings) -> Result<Self, FetchError> {
        let shown = redact(url);
        let fail = |cause: String| FetchError {
            url: shown.clone(),
            range: None,
            cause,
            usage: false,
        };
        let usage = |cause: String| FetchError {
            usage: true,
            ..fail(cause)
        };
        let parsed = url::Url::parse(url).map_err(|e| usage(format!("not a URL: {e}")))?;
        let (store, path) = settings.store(&parsed).map_err(usage)?;
        let head = {
            let (store, path) = (store.clone(), path.clone());
            runtime().block_on(async move { store.head(&path).await })
        };
        let meta = head.map_err(|e| fail(cause(&e)))?;
        Ok(Self {
            url: shown,
            store,
            path,
            len: meta.size,
            etag: meta.e_tag,
            settings: settings.clone(),
        })
    }

    /// The URL, as it may be shown.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Length in bytes when it was opened.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Its settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts fetching `range` (clipped to the object): the bytes come from
    /// [`Pending::wait`].
    pub(crate) fn fetch(self: &Arc<Self>, range: Range<u64>) -> Pending {
        let me = self.clone();
        Pending(Some(runtime().spawn(async move { me.get(range).await })))
    }

    /// Fetches `range` and waits for it.
    pub(crate) fn read(self: &Arc<Self>, range: Range<u64>) -> Result<Vec<u8>, FetchError> {
        self.fetch(range).wait()
    }

    /// One ranged `GET`, tried again (with backoff) on a short body or a failed transfer
    /// (`object_store` itself retries failed requests, 5xx answers and timeouts).
    async fn get(&self, range: Range<u64>) -> Result<Vec<u8>, FetchError> {
        let range = range.start.min(self.len)..range.end.min(self.len);
        let fail = |cause: String| FetchError {
            url: self.url.clone(),
            range: Some(range.clone()),
            cause,
            usage: false,
        };
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let want = (range.end - range.start) as usize;
        let mut tries = 0;
        loop {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                if_match: self.etag.clone(),
                ..GetOptions::default()
            };
            let got = match self.store.get_opts(&self.path, options).await {
                Ok(got) => {
                    // Servers that ignore If-Match still say which version they sent.
                    if got.meta.e_tag.is_some()
                        && self.etag.is_some()
                        && got.meta.e_tag != self.etag
                    {
                        return Err(fail(REPLACED.into()));
                    }
                    got.bytes().await.map_err(|e| cause(&e))
                }
                Err(e @ object_store::Error::Precondition { .. }) => return Err(fail(cause(&e))),
                Err(e @ object_store::Error::NotFound { .. }) => return Err(fail(cause(&e))),
                Err(e) => return Err(fail(cause(&e))),
            };
            let failure = match got {
                // `Vec::from` takes the body's buffer without a copy when it owns it alone.
                Ok(bytes) if bytes.len() == want => return Ok(Vec::from(bytes)),
                Ok(bytes) => format!("short body: {} of {want} bytes", bytes.len()),
                Err(e) => e,
            };
            if tries >= self.settings.retries {
                let tried = if tries == 0 {
                    String::new()
                } else {
                    format!(" (after {} tries)", tries + 1)
                };
                return Err(fail(format!("{failure}{tried}")));
            }
            tries += 1;
            let backoff = Duration::from_millis(50 << tries.min(6));
            tokio::time::sleep(backoff).await;
        }
    }

    /// The object at `url` in the same store settings (an index beside a BAM).
    pub(crate) fn open_related(&self, url: &str) -> Result<Self, FetchError> {
        Self::open(url, &self.settings)
    }
}

/// Every object under the URL prefix `url` (recursively), as `(URL, size)`.
pub(crate) fn list(url: &str, settings: &Settings) -> Result<Vec<(String, u64)>, FetchError> {
    use futures_util::TryStreamExt;
    let fail = |cause: String, usage: bool| FetchError {
        url: redact(url),
        range: None,
        cause,
        usage,
    };
    let parsed = url::Url::parse(url).map_err(|e| fail(format!("not a URL: {e}"), true))?;
    let (store, prefix) = settings.store(&parsed).map_err(|m| fail(m, true))?;
    let listed = runtime().block_on(async move {
        let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
        store.list(prefix.as_ref()).try_collect::<Vec<_>>().await
    });
    let listed = listed.map_err(|e| fail(cause(&e), false))?;
    Ok(listed
        .into_iter()
        .map(|meta| {
            let mut object = parsed.clone();
            object.set_path(meta.location.as_ref());
            (object.to_string(), meta.size)
        })
        .collect())
}

/// A range being fetched.
#[derive(Debug)]
pub(crate) struct Pending(Option<tokio::task::JoinHandle<Result<Vec<u8>, FetchError>>>);

impl Pending {
    /// Whether its bytes (or its error) are there.
    pub(crate) fn is_finished(&self) -> bool {
        self.0.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits for its bytes.
    pub(crate) fn wait(mut self) -> Result<Vec<u8>, FetchError> {
        let handle = self.0.take().expect("a pending fetch is waited for once");
        match runtime().block_on(handle) {
            Ok(got) => got,
            Err(e) => Err(FetchError {
                url: String::new(),
                range: None,
                cause: format!("the request's task failed: {e}"),
                usage: false,
            }),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // A range no one waits for any more (a region query that stopped early).
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

/// How a [`Feed`] fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetch {
    /// A whole-object read: `fetch_concurrency` requests kept in flight, their size growing
    /// from 1 MiB to `fetch_bytes`.
    Ahead,
    /// A byte range read once (an index chunk): one request at a time when a piece is asked
    /// for, of the whole range up to `fetch_bytes`.
    Range,
    /// What is read until the reader has enough (a header): one request at a time when a
    /// piece is asked for, from 64 KiB, doubling up to `fetch_bytes`.
    Probe,
}

/// The next pieces of an object from `start` up to `limit`, fetched ahead: the bytes a BGZF
/// stream over a remote object takes its blocks from.
#[derive(Debug)]
pub(crate) struct Feed {
    object: Arc<Object>,
    next: u64,
    limit: u64,
    queue: std::collections::VecDeque<Pending>,
    /// Requests kept in flight (0: one at a time, only when asked).
    ahead: usize,
    part: u64,
    /// Past this offset, nothing is fetched ahead.
    ahead_until: u64,
}

impl Feed {
    /// Pieces of `object` from `start` to `limit` (clipped to its length), fetched as `how`
    /// says.
    pub(crate) fn new(object: Arc<Object>, start: u64, limit: u64, how: Fetch) -> Self {
        let limit = limit.min(object.len());
        let full = object.settings().fetch_bytes;
        let (ahead, part) = match how {
            Fetch::Ahead => (object.settings().concurrency, full.min(1 << 20)),
            Fetch::Range => (0, full),
            Fetch::Probe => (0, full.min(64 << 10)),
        };
        Self {
            object,
            next: start,
            limit,
            queue: Default::default(),
            ahead,
            part,
            ahead_until: u64::MAX,
        }
    }

    /// Keeps requests in flight ahead only until `end` (plus 1 MiB); past it, one request at a
    /// time when a piece is asked for, from 256 KiB, doubling: the end of a split, past which
    /// only its last record is read.
    pub(crate) fn ahead_until(&mut self, end: u64) {
        self.ahead_until = end.saturating_add(1 << 20);
    }

    fn top_up(&mut self, target: usize) {
        if self.ahead > 0 && self.next >= self.ahead_until {
            self.ahead = 0;
            self.part = self.part.min(256 << 10);
        }
        let target = if self.next >= self.ahead_until {
            target.min(1)
        } else {
            target
        };
        while self.queue.len() < target && self.next < self.limit {
            let end = (self.next + self.part).min(self.limit);
            self.queue.push_back(self.object.fetch(self.next..end));
            self.next = end;
            self.part = (self.part * 2).min(self.object.settings().fetch_bytes);
        }
    }

    /// The next piece (an empty one at the end); without `wait`, `None` when it has not
    /// arrived yet.
    pub(crate) fn next_piece(&mut self, wait: bool) -> Option<std::io::Result<Vec<u8>>> {
        self.top_up(self.ahead.max(1));
        let Some(front) = self.queue.front() else {
            return Some(Ok(Vec::new()));
        };
        if !wait && !front.is_finished() {
            return None;
        }
        let piece = self.queue.pop_front().map(Pending::wait)?;
        self.top_up(self.ahead);
        Some(piece.map_err(std::io::Error::from))
    }
}

mod profile;

#[cfg(test)]
mod tests;
