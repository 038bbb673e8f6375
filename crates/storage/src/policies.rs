//! Stored policy documents, one row per version, so every change is kept.

use jiff::Timestamp;
use ladder_core::{TenantId, UserId};
use sqlx::AnyConnection;

use crate::row::micros;
use crate::{Db, Result};

/// The tenant's current policy document and its version, if one was ever saved.
pub async fn current(db: &Db, tenant_id: &TenantId) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT version, document FROM policies WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id.as_str())
    .fetch_optional(db.pool())
    .await?)
}

/// Same as [`current`], inside a transaction.
pub async fn current_in(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT version, document FROM policies WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant_id.as_str())
    .fetch_optional(conn)
    .await?)
}

/// Saves a new version and returns its number. Two concurrent saves cannot take the same
/// version: the primary key refuses the second.
pub async fn save(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    version: i64,
    document: &str,
    by: Option<&UserId>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO policies (tenant_id, version, document, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id.as_str())
    .bind(version)
    .bind(document)
    .bind(by.map(UserId::as_str))
    .bind(micros(now))
    .execute(conn)
    .await
    .map_err(|e| crate::StorageError::conflict_on_unique(e, "a policy version saved at the same time"))?;
    Ok(())
}
