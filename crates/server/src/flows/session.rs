//! Sessions: a bearer token's row, written once the caller's credentials were checked (the
//! check answers 401 and lives with the HTTP layer in `auth.rs`) and revoked at sign-out.

use jiff::Timestamp;
use ladder_storage::directory::{self, User};
use ladder_storage::Db;

use super::FlowResult;

/// Stores the session of `user`, known by the hash of its token, until `expires_at`.
pub async fn open(
    db: &Db,
    user: &User,
    token_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> FlowResult<()> {
    let mut tx = db.write().await?;
    directory::insert_session(tx.conn(), token_hash, user, now, expires_at).await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes the session known by the hash of its token.
pub async fn close(db: &Db, token_hash: &str, now: Timestamp) -> FlowResult<()> {
    let mut tx = db.write().await?;
    directory::revoke_session(tx.conn(), token_hash, now).await?;
    tx.commit().await?;
    Ok(())
}
