//! Creating organisations and their first owner, and platform-support staff.

use jiff::Timestamp;
use ladder_core::text::ShortText;
use ladder_core::AuditKind;
use ladder_core::Role;
use ladder_storage::directory::{self, NewUser, Tenant, User, PLATFORM_SLUG};
use ladder_storage::Db;
use serde_json::json;

use crate::auth::hash_password;
use crate::flows::record;

/// Makes a URL-safe slug from a name: "Bright Smile Dental" → "bright-smile-dental".
pub fn slugify(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    s.trim_end_matches('-').chars().take(60).collect()
}

/// Creates an organisation with its owner, in one transaction, audited.
pub async fn create_tenant(
    db: &Db,
    name: &str,
    slug: Option<&str>,
    owner_email: &str,
    owner_name: &str,
    owner_password: &str,
    now: Timestamp,
) -> anyhow::Result<(Tenant, User)> {
    let name = ShortText::new(name).map_err(|e| anyhow::anyhow!("name: {e}"))?;
    let slug = slug
        .map(str::to_owned)
        .unwrap_or_else(|| slugify(name.as_str()));
    if slug.is_empty() || slug == PLATFORM_SLUG {
        anyhow::bail!("slug: {slug:?} is not available; choose another with --slug");
    }
    if owner_password.chars().count() < 8 {
        anyhow::bail!("owner password: must be at least 8 characters");
    }
    let hash = hash_password(owner_password.to_owned()).await?;
    let mut tx = db.write().await?;
    let tenant = directory::insert_tenant(tx.conn(), name.as_str(), &slug, now).await?;
    let owner = directory::insert_user(
        tx.conn(),
        NewUser {
            tenant_id: &tenant.id,
            email: owner_email,
            name: owner_name,
            role: Role::Owner,
            password_hash: &hash,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        &tenant.id,
        None,
        None,
        AuditKind::TenantCreated,
        json!({"after": {"name": tenant.name, "slug": tenant.slug, "owner_id": owner.id, "owner_email": owner.email}}),
        now,
    );
    tx.commit().await?;
    Ok((tenant, owner))
}

/// Adds a platform-support user, creating the platform organisation on first use.
pub async fn create_platform_user(
    db: &Db,
    email: &str,
    name: &str,
    password: &str,
    now: Timestamp,
) -> anyhow::Result<User> {
    let hash = hash_password(password.to_owned()).await?;
    let mut tx = db.write().await?;
    let tenant = match directory::find_tenant(db, PLATFORM_SLUG).await? {
        Some(t) => t,
        None => directory::insert_tenant(tx.conn(), "Platform support", PLATFORM_SLUG, now).await?,
    };
    let user = directory::insert_user(
        tx.conn(),
        NewUser {
            tenant_id: &tenant.id,
            email,
            name,
            role: Role::PlatformSupport,
            password_hash: &hash,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        &tenant.id,
        None,
        None,
        AuditKind::UserCreated,
        json!({"user_id": user.id, "after": {"email": user.email, "role": user.role}}),
        now,
    );
    tx.commit().await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            super::slugify("Bright Smile Dental!"),
            "bright-smile-dental"
        );
        assert_eq!(super::slugify("  Ünïcode & Co "), "n-code-co");
    }
}
