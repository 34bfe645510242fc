//! Bearer API keys with a role, and a rate limit per key.
//!
//! A key is `sg_` and 64 hex digits of randomness, shown once when it is created; the store
//! keeps its SHA-256 only. A request's key is hashed, looked up by that hash, and the stored
//! hash compared again in constant time. Lookups are cached for a second, so a revocation
//! from the CLI takes effect within a second without a query per request.

use crate::Service;
use crate::problem::Problem;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use sha2::{Digest, Sha256};
use skillgate_store::{ApiKeyRow, Store};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Uploads skills for scanning and reads their verdicts.
    Uploader,
    /// Asks tiers and reports what a skill did at run time.
    Agent,
    /// Records reviews and promotes or demotes.
    Reviewer,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploader => "uploader",
            Self::Agent => "agent",
            Self::Reviewer => "reviewer",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "uploader" => Some(Self::Uploader),
            "agent" => Some(Self::Agent),
            "reviewer" => Some(Self::Reviewer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// SHA-256 of a key's secret, hex.
pub fn key_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new key: the row to store and the secret to show once.
pub fn new_key(name: &str, role: Role, now: i64, expires_at: Option<i64>) -> (ApiKeyRow, String) {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let mut id = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut id);
    let secret = format!("sg_{}", hex::encode(secret));
    let row = ApiKeyRow {
        id: format!("key_{}", hex::encode(id)),
        name: name.to_string(),
        role: role.as_str().to_string(),
        key_hash: key_hash(&secret),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    (row, secret)
}

/// How long a key lookup is trusted before the store is asked again.
const CACHE_FOR: Duration = Duration::from_secs(1);

/// Keys known to the service, and the rate limiter over them.
pub struct Keys {
    store: Store,
    cache: Mutex<HashMap<String, (Option<ApiKeyRow>, Instant)>>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl Keys {
    pub fn new(store: Store, per_second: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::new(2).expect("two"));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
            limiter,
        }
    }

    async fn lookup(&self, hash: &str) -> Result<Option<ApiKeyRow>, Problem> {
        if let Some((row, at)) = self.cache.lock().expect("key cache").get(hash)
            && at.elapsed() < CACHE_FOR
        {
            return Ok(row.clone());
        }
        let row = self.store.api_key_by_hash(hash).await?;
        let mut cache = self.cache.lock().expect("key cache");
        // Unknown keys are cached too (a flood of bad keys costs no queries), but bounded.
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(hash.to_string(), (row.clone(), Instant::now()));
        Ok(row)
    }

    /// The caller a bearer token names, or why it is refused.
    pub async fn authenticate(&self, bearer: Option<&str>, now: i64) -> Result<Caller, Problem> {
        let secret = bearer.ok_or_else(|| {
            Problem::unauthorized("an API key is required: `Authorization: Bearer sg_…`")
        })?;
        let presented = key_hash(secret);
        let row = self
            .lookup(&presented)
            .await?
            .filter(|row| bool::from(row.key_hash.as_bytes().ct_eq(presented.as_bytes())))
            .ok_or_else(|| Problem::unauthorized("unknown API key"))?;
        if row.revoked_at.is_some() {
            return Err(Problem::unauthorized("this API key was revoked"));
        }
        if row.expires_at.is_some_and(|t| t <= now) {
            return Err(Problem::unauthorized("this API key has expired"));
        }
        let role = Role::parse(&row.role)
            .ok_or_else(|| Problem::forbidden(format!("unknown role `{}`", row.role)))?;
        if let Some(limiter) = &self.limiter
            && limiter.check_key(&row.id).is_err()
        {
            return Err(Problem::busy(
                "rate-limited",
                "too many requests for this API key",
                1,
            ));
        }
        Ok(Caller {
            id: row.id,
            name: row.name,
            role,
        })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    /// Recorded as the actor of every change the caller makes.
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Refuses with `403` unless the caller has one of `roles` (admins always may).
    pub fn require(&self, roles: &[Role]) -> Result<(), Problem> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Problem::forbidden(format!(
            "a `{}` key may not do this; it needs one of: {}",
            self.role.as_str(),
            allowed.join(", ")
        )))
    }
}

/// The bearer token of a request.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        service
            .keys
            .authenticate(bearer(parts), crate::now_ms())
            .await
    }
}
