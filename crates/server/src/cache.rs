//! Tier answers kept for a second.
//!
//! A tier lookup reads several tables and verifies signatures; agents ask before every
//! activation, far more often than a tier changes. An answer is served from memory for at most
//! [`TTL`], and every change this server makes (a scan recorded, an event, a review, a
//! promotion or demotion) empties the cache at once. A change made by another process on the
//! same store (the CLI, a second server) is seen within [`TTL`].

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long an answer is served without reading the store.
pub const TTL: Duration = Duration::from_secs(1);

/// Answers (`200` bodies, serialised) by the query they answered.
#[derive(Default)]
pub struct TierCache {
    answers: RwLock<HashMap<String, (Bytes, Instant)>>,
}

/// Past this many entries the cache starts over: a scan of random names must not grow it.
const MAX_ENTRIES: usize = 200_000;

impl TierCache {
    pub fn get(&self, query: &str) -> Option<Bytes> {
        let answers = self.answers.read().ok()?;
        let (body, at) = answers.get(query)?;
        (at.elapsed() < TTL).then(|| body.clone())
    }

    pub fn put(&self, query: &str, body: Bytes) {
        if let Ok(mut answers) = self.answers.write() {
            if answers.len() >= MAX_ENTRIES {
                answers.retain(|_, (_, at)| at.elapsed() < TTL);
                if answers.len() >= MAX_ENTRIES {
                    answers.clear();
                }
            }
            answers.insert(query.to_string(), (body, Instant::now()));
        }
    }

    /// Forgets every answer: something changed.
    pub fn clear(&self) {
        if let Ok(mut answers) = self.answers.write() {
            answers.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_changes_clear_them() {
        let cache = TierCache::default();
        cache.put("a", Bytes::from_static(b"T2"));
        assert_eq!(cache.get("a"), Some(Bytes::from_static(b"T2")));
        cache.clear();
        assert_eq!(cache.get("a"), None);
        cache.put("a", Bytes::from_static(b"T2"));
        std::thread::sleep(TTL + Duration::from_millis(50));
        assert_eq!(cache.get("a"), None);
    }
}
