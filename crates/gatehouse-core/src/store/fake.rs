//! A short-lived store for the core's own tests: a map behind a mutex that remembers each
//! entry's TTL and never expires anything (expiry is the adapters' job, tested by their
//! conformance suite in `gatehouse-testkit`). The core cannot use those adapters: they depend
//! on it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{ShortLivedStore, StoreError, StoreResult};

#[derive(Default)]
pub struct FakeStore {
    entries: Mutex<HashMap<String, (Vec<u8>, Duration)>>,
    sets: Mutex<HashMap<String, BTreeSet<String>>>,
    /// When set, every call fails as an unreachable store.
    pub down: std::sync::atomic::AtomicBool,
}

impl FakeStore {
    /// The TTL `key` was last written with.
    pub fn ttl(&self, key: &str) -> Option<Duration> {
        self.lock().get(key).map(|(_, ttl)| *ttl)
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, Duration)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn up(&self) -> StoreResult<()> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                backend: "fake",
                message: "down".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ShortLivedStore for FakeStore {
    fn backend(&self) -> &'static str {
        "fake"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.up()
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        self.up()?;
        self.lock().insert(key.to_owned(), (value.to_vec(), ttl));
        Ok(())
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        self.up()?;
        let mut entries = self.lock();
        if entries.contains_key(key) {
            return Ok(false);
        }
        entries.insert(key.to_owned(), (value.to_vec(), ttl));
        Ok(true)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.up()?;
        Ok(self.lock().get(key).map(|(v, _)| v.clone()))
    }

    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.up()?;
        let entries = self.lock();
        Ok(keys
            .iter()
            .map(|k| entries.get(k).map(|(v, _)| v.clone()))
            .collect())
    }

    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.up()?;
        Ok(self.lock().remove(key).map(|(v, _)| v))
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.up()?;
        Ok(self.lock().remove(key).is_some())
    }

    async fn increment(&self, key: &str, window: Duration) -> StoreResult<u64> {
        self.up()?;
        let mut entries = self.lock();
        let (value, _) = entries
            .entry(key.to_owned())
            .or_insert_with(|| (b"0".to_vec(), window));
        let count = String::from_utf8_lossy(value).parse::<u64>().unwrap_or(0) + 1;
        *value = count.to_string().into_bytes();
        Ok(count)
    }

    async fn set_add(&self, key: &str, member: &str, _ttl: Duration) -> StoreResult<()> {
        self.up()?;
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.entry(key.to_owned())
            .or_default()
            .insert(member.to_owned());
        Ok(())
    }

    async fn set_take(&self, key: &str) -> StoreResult<Vec<String>> {
        self.up()?;
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(sets.remove(key).unwrap_or_default().into_iter().collect())
    }

    async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        self.up()?;
        let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(sets
            .get(key)
            .map(|members| members.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn set_remove(&self, key: &str, member: &str) -> StoreResult<bool> {
        self.up()?;
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        Ok(sets
            .get_mut(key)
            .is_some_and(|members| members.remove(member)))
    }
}
