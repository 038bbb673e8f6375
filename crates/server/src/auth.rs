//! Passwords, bearer tokens and the `Caller` every endpoint starts from, which carries the
//! domain [`Actor`] the flows take.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jiff::{SignedDuration, Timestamp};
use ladder_core::Role;
use ladder_storage::directory::{self, User};
use ladder_storage::queues::Audience;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};
use crate::flows::Actor;
use crate::state::AppState;

/// How long a login stays valid.
pub const SESSION_TTL: SignedDuration = SignedDuration::from_hours(12);

/// Password hashing runs on at most this many blocking threads at once, one per core: a
/// flood of sign-ins (each check a deliberate ~100 ms of CPU) then queues here instead of
/// taking every blocking thread the database and the workers need too.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// Sizes the hashing pool now. `available_parallelism` counts the CPUs of the thread that
/// asks, and a request that may write runs on SQLite's write lane, which keeps to one CPU:
/// sized there, the pool would take one sign-in at a time for the life of the server.
pub fn prepare() {
    LazyLock::force(&HASHING);
}

/// Runs `work` on a blocking thread once one of the [`HASHING`] permits is free.
async fn on_hashing_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("the password hashing pool is closed: {e}"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Hashes a password with argon2id on the hashing pool (it is deliberately slow).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    let password = SecretString::from(password);
    on_hashing_pool(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash. When there is no such user, a dummy hash is
/// checked instead so that response times do not reveal which emails exist.
pub async fn verify_password(password: SecretString, stored: Option<String>) -> bool {
    on_hashing_pool(move || {
        let dummy = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W0lHW1WAbVNSzfnFflsSIrUn+lIQ1iGbTnzZ0IM6ZBs";
        let hash = stored.as_deref().unwrap_or(dummy);
        let ok = PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && stored.is_some()
    })
    .await
    .unwrap_or(false)
}

/// A new random bearer token and the hash under which it is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("ldr_{}", hex::encode(bytes));
    let hash = token_hash(&token);
    (token, hash)
}

/// Tokens are stored hashed: a leaked database does not leak live sessions.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in user behind a request: the HTTP side of an [`Actor`], which is what flows
/// take.
pub struct Caller {
    pub user: User,
    pub actor: Actor,
    pub token_hash: String,
}

impl Caller {
    pub fn tenant_id(&self) -> &ladder_core::TenantId {
        &self.user.tenant_id
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    pub fn is_platform(&self) -> bool {
        self.actor.is_platform()
    }

    /// Owners and admins only.
    pub fn require_manager(&self, action: &str) -> ApiResult<()> {
        Ok(self.actor.require_manager(action)?)
    }

    /// Tenant staff who work tickets (not auditors, who only read).
    pub fn require_staff(&self, action: &str) -> ApiResult<()> {
        Ok(self.actor.require_staff(action)?)
    }

    /// The keys under which escalations addressed to this user are queued.
    pub fn queue_keys(&self) -> Vec<String> {
        self.actor.queue_keys()
    }

    /// Whose escalation queue this caller reads: platform support's, or their own under
    /// `keys` (their [`queue_keys`](Self::queue_keys)).
    pub fn queue_audience<'a>(&'a self, keys: &'a [String]) -> Audience<'a> {
        if self.is_platform() {
            Audience::Platform
        } else {
            Audience::Staff {
                tenant_id: self.tenant_id(),
                user_id: &self.user.id,
                keys,
            }
        }
    }
}

/// The cookie that carries a browser's session: the same kind of token as a bearer login.
pub const SESSION_COOKIE: &str = "ladder_session";

/// The value of cookie `name` in the request's `Cookie` headers. Hand-written: a cookie
/// header is `name=value` pairs separated by `;`, and this is the only cookie parsing needed.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

impl Caller {
    /// The caller behind a session token (bearer or cookie), if it is live.
    pub async fn of_token(state: &AppState, token: &str) -> ApiResult<Option<Caller>> {
        let hash = token_hash(token.trim());
        let now: Timestamp = state.now();
        let Some((user, teams)) = directory::session_user(&state.db, &hash, now).await? else {
            return Ok(None);
        };
        Ok(Some(Caller {
            actor: Actor::of_user(&user, teams),
            user,
            token_hash: hash,
        }))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// The bearer token when an Authorization header is present; otherwise the session
    /// cookie, but only for reads (GET, HEAD): a browser sends the cookie along with requests
    /// other sites make it send, so a write through the JSON API keeps requiring the bearer
    /// token and the API has nothing to forge. The pages' forms carry a CSRF token instead.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        let token = match (header, cookie(&parts.headers, SESSION_COOKIE)) {
            (Some(header), _) => {
                // The scheme's name is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
                header
                    .split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token)
                    .ok_or_else(|| {
                        ApiError::Unauthorized(
                            "the Authorization header must be `Bearer <token>`".into(),
                        )
                    })?
            }
            (None, Some(cookie)) if safe => cookie,
            (None, Some(_)) => {
                return Err(ApiError::Unauthorized(
                    "a session cookie only reads the API: send Authorization: Bearer <token> to change anything"
                        .into(),
                ))
            }
            (None, None) => {
                return Err(ApiError::Unauthorized(
                    "sign in with POST /api/v1/auth/login and send Authorization: Bearer <token>"
                        .into(),
                ))
            }
        };
        Caller::of_token(state, token).await?.ok_or_else(|| {
            ApiError::Unauthorized("the token is unknown, expired or revoked: sign in again".into())
        })
    }
}
