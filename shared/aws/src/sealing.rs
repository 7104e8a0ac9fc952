//! Envelope encryption of fields under per-workspace KMS keys (DESIGN §4).
//!
//! A [`Sealer`] gets a data key from KMS `GenerateDataKey` with the encryption
//! context `{"workspace": <id>, "purpose": <purpose>}` and seals fields with
//! [`tern_security::seal`] (AES-256-GCM, the item's [`FieldIdentity`] as associated
//! data). The stored [`SealedValue`] carries the KMS-encrypted copy of the data key;
//! opening unwraps it with KMS `Decrypt` under the same context. So a value is
//! bound twice: to its tenant and purpose by KMS (the context), and to its exact
//! item and field by GCM (the associated data, which also names the workspace).
//!
//! Plain data keys are cached in memory only, for a short TTL, so sealing or
//! opening a thousand fields costs one KMS call, not a thousand. The cache is
//! keyed so that it can never stand in for a check KMS would make: entries for
//! opening are keyed by `(workspace, purpose, key blob)`, never by the blob alone,
//! so presenting workspace A's blob as workspace B's misses the cache and goes to
//! KMS, which refuses the context.

use crate::worker::error_chain;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tern_domain::ids::WorkspaceId;
use tern_security::seal::{self, DataKey, SealError};
use tern_security::secret::Secret;

pub use tern_security::seal::{FieldIdentity, SealedValue};
pub use tern_security::secret::SecretBytes;

/// How long a plain data key stays in memory: long enough that a busy container
/// calls KMS a few times an hour per workspace and purpose, short enough that a
/// deleted workspace's keys leave every container within minutes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// Cache entries per [`Sealer`] (sealing and opening entries each). A Lambda
/// container serves few workspaces at a time; the bound only stops a flood of
/// distinct blobs (e.g. garbage input) from growing memory.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Values sealed under one data key before a new one is fetched. AES-GCM with
/// random 96-bit nonces must stay well below 2^32 messages per key.
pub const MAX_SEALS_PER_KEY: u64 = 1 << 20;

/// Encryption-context names. Changing either makes every stored value unreadable.
const CONTEXT_WORKSPACE: &str = "workspace";
const CONTEXT_PURPOSE: &str = "purpose";

/// Why sealing, opening or key management failed. Messages never carry key
/// material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    /// KMS could not be reached or failed the request; may succeed on retry.
    #[error("KMS request failed: {0}")]
    Kms(String),
    /// KMS or AES-GCM refused: the value belongs to another workspace, purpose,
    /// item or field, or it was tampered with. Deliberately says no more.
    #[error("sealed value refused (wrong workspace, purpose or item, or tampered)")]
    Refused,
    /// The workspace's key is disabled or pending deletion: its values are
    /// crypto-shredded. Not worth retrying.
    #[error("the workspace key is disabled or scheduled for deletion")]
    KeyUnavailable,
    /// Local cryptography failed (RNG, oversized plaintext, malformed data key).
    #[error("sealing failed: {0}")]
    Crypto(String),
    /// The caller asked for something invalid (bad purpose, deletion window).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A key management step named a key that is not tagged as the workspace's
    /// own: refused, the key untouched.
    #[error("KMS key {key_id} is not tagged as workspace {workspace}'s key; refusing to touch it")]
    NotThisWorkspace { key_id: String, workspace: String },
}

/// Maps a KMS SDK error; `operation` names the call for the message.
pub(crate) fn kms_error<E, R>(operation: &str, error: &SdkError<E, R>) -> SealingError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error().and_then(|e| e.code()) {
        // Wrong encryption context, a blob from another key, or a damaged blob:
        // KMS does not say which, and neither do we.
        Some("InvalidCiphertextException" | "IncorrectKeyException") => SealingError::Refused,
        Some("DisabledException" | "KMSInvalidStateException") => SealingError::KeyUnavailable,
        _ => SealingError::Kms(format!("{operation}: {}", error_chain(error))),
    }
}

/// Seals and opens fields, caching plain data keys in memory.
///
/// Build one per Lambda container and clone it into every handler: clones share
/// the cache.
#[derive(Clone)]
pub struct Sealer {
    inner: Arc<Inner>,
}

struct Inner {
    kms: aws_sdk_kms::Client,
    ttl: Duration,
    capacity: usize,
    cache: Mutex<Cache>,
    /// Where cache ages are read: the monotonic clock, or a test's own.
    now: TimeSource,
}

/// A monotonic time source for the cache's ages.
pub type TimeSource = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Sealing uses the current data key of `(workspace, key id, purpose)`; the key id
/// is part of it so a workspace moved to a new KMS key stops sealing under the old.
type SealKey = (WorkspaceId, String, String);
/// Opening looks keys up by `(workspace, purpose, key blob)`: see the module docs.
type OpenKey = (WorkspaceId, String, Vec<u8>);

#[derive(Default)]
struct Cache {
    sealing: HashMap<SealKey, Arc<Slot>>,
    opening: HashMap<OpenKey, Arc<Slot>>,
}

/// One cache entry. The cell is filled by the first caller that misses; callers
/// arriving meanwhile wait for it instead of calling KMS too.
struct Slot {
    cell: tokio::sync::OnceCell<Arc<CachedKey>>,
}

struct CachedKey {
    /// Zeroized when the last `Arc` goes (DataKey wraps a `Secret`).
    key: DataKey,
    blob: Vec<u8>,
    fetched: Instant,
    seals: AtomicU64,
}

impl Slot {
    fn empty() -> Arc<Self> {
        Arc::new(Self { cell: tokio::sync::OnceCell::new() })
    }

    fn ready(key: Arc<CachedKey>) -> Arc<Self> {
        Arc::new(Self { cell: tokio::sync::OnceCell::new_with(Some(key)) })
    }

    /// Fetched at, or `None` while the fetch is in flight (or failed).
    fn fetched(&self) -> Option<Instant> {
        self.cell.get().map(|k| k.fetched)
    }

    /// Still fit to hand out: in flight (wait for it), or fresh and not worn out.
    fn usable(&self, now: Instant, ttl: Duration) -> bool {
        self.cell
            .get()
            .is_none_or(|k| now.saturating_duration_since(k.fetched) < ttl && k.seals.load(Ordering::Relaxed) < MAX_SEALS_PER_KEY)
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.inner.lock();
        f.debug_struct("Sealer")
            .field("ttl", &self.inner.ttl)
            .field("sealing_entries", &cache.sealing.len())
            .field("opening_entries", &cache.opening.len())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        // The map is only ever mutated by complete insert/remove calls, so it is
        // consistent even if a holder panicked.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Sealer {
    /// A sealer whose plain data keys live for `cache_ttl` ([`DEFAULT_CACHE_TTL`]
    /// unless there is a reason). A zero TTL disables caching.
    pub fn new(kms: aws_sdk_kms::Client, cache_ttl: Duration) -> Self {
        Self::with_capacity(kms, cache_ttl, DEFAULT_CACHE_CAPACITY)
    }

    /// As [`Sealer::new`], with at most `capacity` sealing and `capacity` opening entries.
    pub fn with_capacity(kms: aws_sdk_kms::Client, cache_ttl: Duration, capacity: usize) -> Self {
        Self::with_time_source(kms, cache_ttl, capacity, Arc::new(Instant::now))
    }

    /// As [`Sealer::with_capacity`], reading cache ages from `now` (tests move their
    /// own time past the TTL instead of waiting for it, so no test depends on how
    /// fast the machine is).
    pub fn with_time_source(kms: aws_sdk_kms::Client, cache_ttl: Duration, capacity: usize, now: TimeSource) -> Self {
        Self { inner: Arc::new(Inner { kms, ttl: cache_ttl, capacity: capacity.max(1), cache: Mutex::new(Cache::default()), now }) }
    }

    /// Seals `plaintext` for the field `identity` of `workspace`, under a data key
    /// of the workspace's KMS key `key_id` for `purpose` (e.g. `mailbox-credentials`).
    ///
    /// `identity.workspace` must be `workspace`: the associated data and the KMS
    /// context must name the same tenant, or the value would be bound to two.
    pub async fn seal(
        &self,
        workspace: WorkspaceId,
        key_id: &str,
        purpose: &str,
        identity: &FieldIdentity<'_>,
        plaintext: &[u8],
    ) -> Result<SealedValue, SealingError> {
        check_purpose(purpose)?;
        check_identity(workspace, identity)?;
        let slot_key = (workspace, key_id.to_owned(), purpose.to_owned());
        let slot = self.slot(|c| &mut c.sealing, &slot_key);
        let fetched = slot.cell.get_or_try_init(|| self.generate(workspace, key_id, purpose)).await;
        let cached = match fetched {
            Ok(cached) => Arc::clone(cached),
            Err(e) => {
                self.discard_failed(|c| &mut c.sealing, &slot_key, &slot);
                return Err(e);
            }
        };
        cached.seals.fetch_add(1, Ordering::Relaxed);
        let ciphertext = seal::seal(&cached.key, identity, plaintext).map_err(|e| SealingError::Crypto(e.to_string()))?;
        Ok(SealedValue { key_blob: cached.blob.clone(), ciphertext })
    }

    /// Opens a value sealed by [`Sealer::seal`] for the same workspace, purpose and
    /// identity. Anything else — another tenant, item or field, a changed byte —
    /// is [`SealingError::Refused`].
    pub async fn open(
        &self,
        workspace: WorkspaceId,
        purpose: &str,
        identity: &FieldIdentity<'_>,
        sealed: &SealedValue,
    ) -> Result<SecretBytes, SealingError> {
        check_purpose(purpose)?;
        check_identity(workspace, identity)?;
        let slot_key = (workspace, purpose.to_owned(), sealed.key_blob.clone());
        let slot = self.slot(|c| &mut c.opening, &slot_key);
        let fetched = slot.cell.get_or_try_init(|| self.decrypt(workspace, purpose, &sealed.key_blob)).await;
        let cached = match fetched {
            Ok(cached) => Arc::clone(cached),
            Err(e) => {
                // Refused blobs are not remembered: they would only take cache room.
                self.discard_failed(|c| &mut c.opening, &slot_key, &slot);
                return Err(e);
            }
        };
        seal::open(&cached.key, identity, &sealed.ciphertext).map_err(|e| match e {
            SealError::Authentication | SealError::Truncated | SealError::UnsupportedVersion(_) => SealingError::Refused,
            other => SealingError::Crypto(other.to_string()),
        })
    }

    /// Drops every cached data key of `workspace` (the workspace is being deleted,
    /// or its key replaced). Only this container's cache: others expire theirs
    /// within the TTL.
    pub fn forget_workspace(&self, workspace: WorkspaceId) {
        let mut cache = self.inner.lock();
        cache.sealing.retain(|(ws, _, _), _| *ws != workspace);
        cache.opening.retain(|(ws, _, _), _| *ws != workspace);
    }

    /// Drops expired entries now rather than at the next miss; cheap enough to call
    /// at the end of every invocation, so a frozen container holds no stale keys.
    pub fn purge_expired(&self) {
        let now = (self.inner.now)();
        let ttl = self.inner.ttl;
        let mut cache = self.inner.lock();
        cache.sealing.retain(|_, slot| slot.usable(now, ttl));
        cache.opening.retain(|_, slot| slot.usable(now, ttl));
    }

    /// Workspaces with anything in the cache (fresh, expired-but-not-yet-purged,
    /// or in flight), sorted. For tests and diagnostics: no key material.
    pub fn cached_workspaces(&self) -> Vec<WorkspaceId> {
        let cache = self.inner.lock();
        let set: BTreeSet<WorkspaceId> =
            cache.sealing.keys().map(|(ws, _, _)| *ws).chain(cache.opening.keys().map(|(ws, _, _)| *ws)).collect();
        set.into_iter().collect()
    }

    /// Cache entries (sealing plus opening) held for `workspace`.
    pub fn cached_entries(&self, workspace: WorkspaceId) -> usize {
        let cache = self.inner.lock();
        cache.sealing.keys().filter(|(ws, _, _)| *ws == workspace).count()
            + cache.opening.keys().filter(|(ws, _, _)| *ws == workspace).count()
    }

    /// The usable slot for `key` in the map `pick` selects, or a new empty one.
    fn slot<K: Eq + Hash + Clone>(&self, pick: impl Fn(&mut Cache) -> &mut HashMap<K, Arc<Slot>>, key: &K) -> Arc<Slot> {
        let now = (self.inner.now)();
        let ttl = self.inner.ttl;
        let mut cache = self.inner.lock();
        let map = pick(&mut cache);
        if let Some(slot) = map.get(key)
            && slot.usable(now, ttl)
        {
            return Arc::clone(slot);
        }
        let slot = Slot::empty();
        insert_bounded(map, key.clone(), Arc::clone(&slot), now, ttl, self.inner.capacity);
        slot
    }

    /// Removes `slot` if it is still the entry for `key` and never got a key.
    fn discard_failed<K: Eq + Hash>(&self, pick: impl Fn(&mut Cache) -> &mut HashMap<K, Arc<Slot>>, key: &K, slot: &Arc<Slot>) {
        let mut cache = self.inner.lock();
        let map = pick(&mut cache);
        if map.get(key).is_some_and(|s| Arc::ptr_eq(s, slot) && s.cell.get().is_none()) {
            map.remove(key);
        }
    }

    async fn generate(&self, workspace: WorkspaceId, key_id: &str, purpose: &str) -> Result<Arc<CachedKey>, SealingError> {
        let out = self
            .inner
            .kms
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_WORKSPACE, workspace.to_string())
            .encryption_context(CONTEXT_PURPOSE, purpose)
            .send()
            .await
            .map_err(|e| kms_error("GenerateDataKey", &e))?;
        let blob = out
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| SealingError::Kms("GenerateDataKey returned no ciphertext blob".into()))?;
        let key = data_key(out.plaintext, "GenerateDataKey")?;
        let cached = Arc::new(CachedKey { key, blob, fetched: (self.inner.now)(), seals: AtomicU64::new(0) });
        // Values sealed here are often read back in the same container (a send job
        // seals a body then opens it); register the key for opening too, so that
        // costs no Decrypt.
        let now = (self.inner.now)();
        let mut cache = self.inner.lock();
        insert_bounded(
            &mut cache.opening,
            (workspace, purpose.to_owned(), cached.blob.clone()),
            Slot::ready(Arc::clone(&cached)),
            now,
            self.inner.ttl,
            self.inner.capacity,
        );
        Ok(cached)
    }

    async fn decrypt(&self, workspace: WorkspaceId, purpose: &str, blob: &[u8]) -> Result<Arc<CachedKey>, SealingError> {
        // No KeyId: the blob names its key, and pinning the workspace alias here
        // would break opening old values after the alias is moved to a new key.
        // The tenant check is the encryption context.
        let out = self
            .inner
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTEXT_WORKSPACE, workspace.to_string())
            .encryption_context(CONTEXT_PURPOSE, purpose)
            .send()
            .await
            .map_err(|e| kms_error("Decrypt", &e))?;
        let key = data_key(out.plaintext, "Decrypt")?;
        Ok(Arc::new(CachedKey { key, blob: blob.to_vec(), fetched: (self.inner.now)(), seals: AtomicU64::new(0) }))
    }
}

/// Takes the plaintext data key out of a KMS response into a [`DataKey`],
/// zeroizing the response's copy. (Copies inside the SDK's and HTTP stack's
/// buffers are out of our reach.)
fn data_key(plaintext: Option<Blob>, operation: &str) -> Result<DataKey, SealingError> {
    let bytes =
        plaintext.map(|b| Secret::new(b.into_inner())).ok_or_else(|| SealingError::Kms(format!("{operation} returned no plaintext")))?;
    // A 32-byte key under our context that is not a data key cannot happen by
    // accident; treat it as a refusal rather than trusting it.
    DataKey::from_slice(bytes.expose()).map_err(|_| SealingError::Refused)
}

/// Inserts, first dropping expired entries, then (at capacity) the oldest.
fn insert_bounded<K: Eq + Hash + Clone>(
    map: &mut HashMap<K, Arc<Slot>>,
    key: K,
    slot: Arc<Slot>,
    now: Instant,
    ttl: Duration,
    capacity: usize,
) {
    // Misses are rare (once per key and TTL), so sweeping on every insert is cheap
    // and keeps expired keys from lingering in memory.
    map.retain(|_, s| s.usable(now, ttl));
    while map.len() >= capacity && !map.contains_key(&key) {
        // In-flight or failed entries (no fetch time) go first, then the oldest.
        let Some(oldest) = map.iter().min_by_key(|(_, s)| s.fetched()).map(|(k, _)| k.clone()) else {
            break;
        };
        map.remove(&oldest);
    }
    map.insert(key, slot);
}

/// Purposes go into the KMS encryption context and audit logs: keep them short,
/// stable, lowercase names.
fn check_purpose(purpose: &str) -> Result<(), SealingError> {
    let ok = !purpose.is_empty()
        && purpose.len() <= 64
        && purpose.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
    if ok { Ok(()) } else { Err(SealingError::Invalid("purpose must be 1..=64 of [a-z0-9-_.:]".into())) }
}

/// The identity's workspace must be the workspace whose key is used: otherwise a
/// caller could seal tenant A's item under tenant B's key, or open a value with
/// the KMS context of one tenant and the associated data of another.
fn check_identity(workspace: WorkspaceId, identity: &FieldIdentity<'_>) -> Result<(), SealingError> {
    if identity.workspace == workspace.to_string() { Ok(()) } else { Err(SealingError::Refused) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(fetched: Instant) -> Arc<Slot> {
        Slot::ready(Arc::new(CachedKey { key: DataKey::from_slice(&[7; 32]).unwrap(), blob: vec![1], fetched, seals: AtomicU64::new(0) }))
    }

    #[test]
    fn purposes_are_checked() {
        assert!(check_purpose("mailbox-credentials").is_ok());
        assert!(check_purpose("oauth.token:v2").is_ok());
        for bad in ["", "Upper", "with space", "é", &"x".repeat(65)] {
            assert!(matches!(check_purpose(bad), Err(SealingError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn identity_must_name_the_workspace() {
        let ws = WorkspaceId::generate();
        let other = WorkspaceId::generate().to_string();
        let mine = ws.to_string();
        let id = |w| FieldIdentity { workspace: w, entity: "mailbox", id: "m1", field: "password" };
        assert!(check_identity(ws, &id(&mine)).is_ok());
        assert_eq!(check_identity(ws, &id(&other)), Err(SealingError::Refused));
    }

    #[test]
    fn insert_drops_expired_then_oldest() {
        let now = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut map: HashMap<u32, Arc<Slot>> = HashMap::new();
        map.insert(1, cached(now.checked_sub(Duration::from_secs(120)).unwrap_or(now)));
        map.insert(2, cached(now.checked_sub(Duration::from_secs(30)).unwrap_or(now)));
        map.insert(3, cached(now));
        // Entry 1 is expired and goes; at capacity 2 the older of 2 and 3 goes too.
        insert_bounded(&mut map, 4, cached(now), now, ttl, 2);
        let mut keys: Vec<u32> = map.keys().copied().collect();
        keys.sort_unstable();
        assert_eq!(keys, vec![3, 4]);
    }

    #[test]
    fn worn_out_keys_are_not_reused() {
        let now = Instant::now();
        let slot = cached(now);
        assert!(slot.usable(now, Duration::from_secs(60)));
        slot.cell.get().unwrap().seals.store(MAX_SEALS_PER_KEY, Ordering::Relaxed);
        assert!(!slot.usable(now, Duration::from_secs(60)));
        assert!(Slot::empty().usable(now, Duration::ZERO));
    }

    #[test]
    fn error_messages_carry_no_detail_for_refusals() {
        assert_eq!(SealingError::Refused.to_string(), "sealed value refused (wrong workspace, purpose or item, or tampered)");
    }
}
