//! The in-process short-lived store: the embedded default for a single instance.
//!
//! Entries live in a few mutex-guarded hash maps (shards, so concurrent requests rarely wait on
//! the same lock). Every operation is one critical section, which is what makes `take` exactly
//! once and `put_new` first-wins. Expired entries are invisible at once and removed either when
//! touched or by [`MemoryStore::purge_expired`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::store::{ShortLivedStore, StoreError, StoreResult};
// Tokio's clock rather than `std::time::Instant`: outside a paused test runtime it is the same
// monotonic clock (it reads `std::time::Instant::now()`), so the store behaves identically; in
// tests with `#[tokio::test(start_paused = true)]`, `tokio::time::advance` moves it, so expiry is
// tested without sleeping.
use tokio::time::Instant;

const SHARDS: usize = 16;

/// Sized for the common case: the embedded default keeps every live opaque access token here
/// (one per `client_credentials` request, for the token's lifetime), so an entry is kept small:
/// boxed slices instead of `Vec`/`String` (no spare capacity, 16 bytes instead of 24) and the
/// rare set boxed, so a slot is 40 bytes instead of 64.
#[derive(Debug)]
enum Value {
    Bytes(Box<[u8]>),
    Counter(u64),
    #[expect(
        clippy::box_collection,
        reason = "a HashSet is 48 bytes inline; boxed, every slot is 24 bytes smaller"
    )]
    Set(Box<HashSet<String>>),
}

#[derive(Debug)]
struct Slot {
    value: Value,
    deadline: Instant,
}

impl Slot {
    fn is_live(&self, now: Instant) -> bool {
        self.deadline > now
    }
}

type Shard = HashMap<Box<str>, Slot>;

/// See the module docs. State is lost on restart and not shared between processes, so run a
/// single instance with it (use Redis to scale out).
#[derive(Debug)]
pub struct MemoryStore {
    shards: Vec<Mutex<Shard>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// `now + ttl`, saturating far in the future instead of overflowing on absurd TTLs.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn wrong_type(key: &str, wanted: &str) -> StoreError {
    StoreError::Corrupt(format!("key {key:?} does not hold a {wanted}"))
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        // Truncating the hash on 32-bit targets only changes which shard a key lands in.
        let shard = &self.shards[hasher.finish() as usize % self.shards.len()];
        // A panic while holding the lock cannot leave a map half-updated (each critical section
        // is a single map operation), so a poisoned lock is still safe to use.
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live entry at `key`, after dropping it if it has expired.
    fn live<'a>(shard: &'a mut Shard, key: &str, now: Instant) -> Option<&'a mut Slot> {
        if shard.get(key).is_some_and(|slot| !slot.is_live(now)) {
            shard.remove(key);
        }
        shard.get_mut(key)
    }

    /// Removes every expired entry; returns how many. Call it periodically (the binary does, via
    /// [`MemoryStore::spawn_purger`]) so keys nobody reads again do not pile up.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut removed = 0;
        for shard in &self.shards {
            let mut shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let before = shard.len();
            shard.retain(|_, slot| slot.is_live(now));
            removed += before - shard.len();
        }
        removed
    }

    /// Runs [`MemoryStore::purge_expired`] every `every` on the current tokio runtime until the
    /// store is dropped (the task holds only a weak reference).
    pub fn spawn_purger(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match store.upgrade() {
                    Some(store) => {
                        let removed = store.purge_expired();
                        tracing::debug!(removed, "purged expired short-lived entries");
                    }
                    None => break,
                }
            }
        })
    }

    /// Number of entries held, expired or not (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ShortLivedStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let deadline = deadline(Instant::now(), ttl);
        self.shard(key).insert(
            key.into(),
            Slot {
                value: Value::Bytes(value.into()),
                deadline,
            },
        );
        Ok(())
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        if Self::live(&mut shard, key, now).is_some() {
            return Ok(false);
        }
        shard.insert(
            key.into(),
            Slot {
                value: Value::Bytes(value.into()),
                deadline: deadline(now, ttl),
            },
        );
        Ok(true)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut shard = self.shard(key);
        match Self::live(&mut shard, key, Instant::now()).map(|slot| &slot.value) {
            None => Ok(None),
            Some(Value::Bytes(bytes)) => Ok(Some(bytes.to_vec())),
            // Redis keeps counters as decimal strings; read them the same way here.
            Some(Value::Counter(n)) => Ok(Some(n.to_string().into_bytes())),
            Some(Value::Set(_)) => Err(wrong_type(key, "value")),
        }
    }

    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        match shard.remove(key) {
            Some(slot) if slot.is_live(now) => match slot.value {
                Value::Bytes(bytes) => Ok(Some(bytes.into_vec())),
                Value::Counter(n) => Ok(Some(n.to_string().into_bytes())),
                value @ Value::Set(_) => {
                    shard.insert(
                        key.into(),
                        Slot {
                            value,
                            deadline: slot.deadline,
                        },
                    );
                    Err(wrong_type(key, "value"))
                }
            },
            _ => Ok(None),
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let now = Instant::now();
        Ok(self
            .shard(key)
            .remove(key)
            .is_some_and(|slot| slot.is_live(now)))
    }

    async fn increment(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        if let Some(slot) = Self::live(&mut shard, key, now) {
            let count = match &slot.value {
                Value::Counter(n) => n.saturating_add(1),
                Value::Bytes(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| wrong_type(key, "counter"))?
                    .saturating_add(1),
                Value::Set(_) => return Err(wrong_type(key, "counter")),
            };
            slot.value = Value::Counter(count);
            return Ok(count);
        }
        shard.insert(
            key.into(),
            Slot {
                value: Value::Counter(1),
                deadline: deadline(now, window),
            },
        );
        Ok(1)
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> StoreResult<()> {
        let now = Instant::now();
        let deadline = deadline(now, ttl);
        let mut shard = self.shard(key);
        if let Some(slot) = Self::live(&mut shard, key, now) {
            let Value::Set(members) = &mut slot.value else {
                return Err(wrong_type(key, "set"));
            };
            members.insert(member.to_owned());
            slot.deadline = slot.deadline.max(deadline);
            return Ok(());
        }
        shard.insert(
            key.into(),
            Slot {
                value: Value::Set(Box::new(HashSet::from([member.to_owned()]))),
                deadline,
            },
        );
        Ok(())
    }

    async fn set_take(&self, key: &str) -> StoreResult<Vec<String>> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        match shard.remove(key) {
            Some(slot) if slot.is_live(now) => match slot.value {
                Value::Set(members) => Ok(members.into_iter().collect()),
                value => {
                    shard.insert(
                        key.into(),
                        Slot {
                            value,
                            deadline: slot.deadline,
                        },
                    );
                    Err(wrong_type(key, "set"))
                }
            },
            _ => Ok(Vec::new()),
        }
    }

    async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        match Self::live(&mut shard, key, now) {
            Some(slot) => match &slot.value {
                Value::Set(members) => Ok(members.iter().cloned().collect()),
                _ => Err(wrong_type(key, "set")),
            },
            None => Ok(Vec::new()),
        }
    }

    async fn set_remove(&self, key: &str, member: &str) -> StoreResult<bool> {
        let now = Instant::now();
        let mut shard = self.shard(key);
        match Self::live(&mut shard, key, now) {
            Some(slot) => match &mut slot.value {
                Value::Set(members) => Ok(members.remove(member)),
                _ => Err(wrong_type(key, "set")),
            },
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_stays_small() {
        // Per live opaque token: this, the boxed key and the boxed value.
        assert!(
            std::mem::size_of::<Slot>() <= 40,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    const BRIEF: Duration = Duration::from_millis(20);

    #[tokio::test(start_paused = true)]
    async fn purge_drops_only_expired_entries() {
        let store = MemoryStore::new();
        store.put("brief", b"x", BRIEF).await.unwrap_or_default();
        store
            .set_add("brief-set", "m", BRIEF)
            .await
            .unwrap_or_default();
        store
            .put("kept", b"y", Duration::from_secs(60))
            .await
            .unwrap_or_default();
        assert_eq!(store.purge_expired(), 0);
        tokio::time::advance(BRIEF * 3).await;
        assert_eq!(
            store.len(),
            3,
            "expired entries linger until touched or purged"
        );
        assert_eq!(store.purge_expired(), 2);
        assert_eq!(store.len(), 1);
        assert!(matches!(store.get("kept").await, Ok(Some(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_purger_runs_and_stops_with_the_store() {
        let store = Arc::new(MemoryStore::new());
        store.put("brief", b"x", BRIEF).await.unwrap_or_default();
        let purger = store.spawn_purger(BRIEF);
        // Let the purger start its interval, move the clock past the entry's expiry and the
        // purger's next tick (which wakes it), and yield so the woken purger runs before the check.
        tokio::task::yield_now().await;
        tokio::time::advance(BRIEF * 5).await;
        tokio::task::yield_now().await;
        assert!(store.is_empty());
        drop(store);
        let stopped = tokio::time::timeout(BRIEF * 10, purger).await;
        assert!(
            matches!(stopped, Ok(Ok(()))),
            "the purger ends once the store is gone"
        );
    }

    #[tokio::test]
    async fn values_of_another_kind_are_reported_not_clobbered() {
        let store = MemoryStore::new();
        store
            .set_add("set", "m", Duration::from_secs(60))
            .await
            .unwrap_or_default();
        assert!(matches!(
            store.take("set").await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.increment("set", Duration::from_secs(60)).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(store.set_take("set").await, Ok(members) if members == ["m"]));
    }
}
