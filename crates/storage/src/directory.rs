//! Tenants, users, sessions, teams and customers: who is who.

use jiff::Timestamp;
use ladder_core::{CustomerId, CustomerTier, Role, TeamId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::row::{in_table, micros, new_id, RowExt};
use crate::sql::{in_list, Sql};
use crate::{Db, Result, StorageError};

/// The slug of the tenant that holds platform-support staff. Its users see the tickets that
/// any tenant escalated to the platform, and nothing else.
pub const PLATFORM_SLUG: &str = "platform";

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Set while the user is away; escalations route around them until then.
    pub away_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl User {
    pub fn is_away(&self, now: Timestamp) -> bool {
        self.away_until.is_some_and(|t| t > now)
    }
}

#[derive(Clone, Debug)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tier: CustomerTier,
    pub created_at: Timestamp,
}

const USER_COLS: &str = "id, tenant_id, email, name, role, away_until, created_at";

fn user_from_row(row: &AnyRow) -> Result<User> {
    in_table("users", row, user_columns)
}

fn user_columns(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: UserId(row.text("id")?),
        tenant_id: TenantId(row.text("tenant_id")?),
        email: row.text("email")?,
        name: row.text("name")?,
        role: row.parse("role")?,
        away_until: row.opt_time("away_until")?,
        created_at: row.time("created_at")?,
    })
}

fn tenant_from_row(row: &AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId(row.text("id")?),
        name: row.text("name")?,
        slug: row.text("slug")?,
        created_at: row.time("created_at")?,
    })
}

pub async fn insert_tenant(
    conn: &mut AnyConnection,
    name: &str,
    slug: &str,
    now: Timestamp,
) -> Result<Tenant> {
    let t = Tenant {
        id: TenantId(new_id()),
        name: name.to_owned(),
        slug: slug.to_owned(),
        created_at: now,
    };
    sqlx::query("INSERT INTO tenants (id, name, slug, created_at) VALUES ($1, $2, $3, $4)")
        .bind(t.id.as_str())
        .bind(&t.name)
        .bind(&t.slug)
        .bind(micros(now))
        .execute(conn)
        .await
        .map_err(|e| {
            StorageError::conflict_on_unique(e, &format!("a tenant with slug {slug:?}"))
        })?;
    Ok(t)
}

/// Finds a tenant by slug or id.
pub async fn find_tenant(db: &Db, key: &str) -> Result<Option<Tenant>> {
    let row =
        sqlx::query("SELECT id, name, slug, created_at FROM tenants WHERE slug = $1 OR id = $1")
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

/// Every organisation (not the platform's own), oldest first.
pub async fn tenants(db: &Db) -> Result<Vec<Tenant>> {
    let rows = sqlx::query(
        "SELECT id, name, slug, created_at FROM tenants WHERE slug <> $1 ORDER BY created_at, id",
    )
    .bind(PLATFORM_SLUG)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(tenant_from_row).collect()
}

pub async fn count_tenants(db: &Db) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants")
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

pub struct NewUser<'a> {
    pub tenant_id: &'a TenantId,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub async fn insert_user(conn: &mut AnyConnection, u: NewUser<'_>, now: Timestamp) -> Result<User> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, name, role, password_hash, away_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
    )
    .bind(&id)
    .bind(u.tenant_id.as_str())
    .bind(u.email)
    .bind(u.name)
    .bind(u.role.as_str())
    .bind(u.password_hash)
    .bind(micros(now))
    .execute(conn)
    .await
    .map_err(|e| StorageError::conflict_on_unique(e, &format!("a user with email {:?}", u.email)))?;
    Ok(User {
        id: UserId(id),
        tenant_id: u.tenant_id.clone(),
        email: u.email.to_owned(),
        name: u.name.to_owned(),
        role: u.role,
        away_until: None,
        created_at: now,
    })
}

pub async fn set_away(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    user_id: &UserId,
    until: Option<Timestamp>,
) -> Result<bool> {
    let r = sqlx::query("UPDATE users SET away_until = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(until.map(micros))
        .bind(tenant_id.as_str())
        .bind(user_id.as_str())
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A user and their password hash, for login. The email matches whatever its case, as the
/// unique index on `lower(email)` compares it.
pub async fn user_for_login(
    db: &Db,
    tenant_id: &TenantId,
    email: &str,
) -> Result<Option<(User, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLS}, password_hash FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)"
    ))
    .bind(tenant_id.as_str())
    .bind(email)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => Ok(Some((user_from_row(&r)?, r.text("password_hash")?))),
        None => Ok(None),
    }
}

pub async fn user(db: &Db, tenant_id: &TenantId, user_id: &UserId) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id.as_str())
    .bind(user_id.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn users(db: &Db, tenant_id: &TenantId) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(tenant_id.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn users_with_role(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    role: Role,
) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND role = $2 ORDER BY created_at, id"
    ))
    .bind(tenant_id.as_str())
    .bind(role.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(user_from_row).collect()
}

/// Users by id within a tenant (missing or foreign ids are simply absent).
pub async fn users_by_id(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ids: &[String],
) -> Result<Vec<User>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            out.push(user_from_row(&r)?);
        }
    }
    Ok(out)
}

// --- sessions -------------------------------------------------------------------------------

pub async fn insert_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    user: &User,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, tenant_id, user_id, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, NULL)",
    )
    .bind(token_hash)
    .bind(user.tenant_id.as_str())
    .bind(user.id.as_str())
    .bind(micros(now))
    .bind(micros(expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The user behind a live (unexpired, unrevoked) session token hash, with the ids of their
/// teams: one statement, since every signed-in request asks it.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(User, Vec<String>)>> {
    // One row per team, or one with no team.
    let rows = sqlx::query(
        "SELECT u.id, u.tenant_id, u.email, u.name, u.role, u.away_until, u.created_at, \
         m.team_id FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN team_members m ON m.tenant_id = u.tenant_id AND m.user_id = u.id \
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
         ORDER BY m.team_id",
    )
    .bind(token_hash)
    .bind(micros(now))
    .fetch_all(db.pool())
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let user = user_from_row(first)?;
    let teams = rows
        .iter()
        .map(|r| in_table("team_members", r, |r| r.opt_text("team_id")))
        .filter_map(Result::transpose)
        .collect::<Result<Vec<String>>>()?;
    Ok(Some((user, teams)))
}

pub async fn revoke_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: Timestamp,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(micros(now))
    .bind(token_hash)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// --- teams ----------------------------------------------------------------------------------

pub async fn insert_team(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    name: &str,
    members: &[String],
    now: Timestamp,
) -> Result<Team> {
    let id = new_id();
    sqlx::query("INSERT INTO teams (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(tenant_id.as_str())
        .bind(name)
        .bind(micros(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| StorageError::conflict_on_unique(e, &format!("a team named {name:?}")))?;
    for m in members {
        sqlx::query("INSERT INTO team_members (tenant_id, team_id, user_id) VALUES ($1, $2, $3)")
            .bind(tenant_id.as_str())
            .bind(&id)
            .bind(m)
            .execute(&mut *conn)
            .await
            .map_err(|e| StorageError::conflict_on_unique(e, "a repeated team member"))?;
    }
    Ok(Team {
        id: TeamId(id),
        name: name.to_owned(),
        members: members.iter().cloned().map(UserId).collect(),
        created_at: now,
    })
}

pub async fn team(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    team_id: &TeamId,
) -> Result<Option<Team>> {
    let row =
        sqlx::query("SELECT id, name, created_at FROM teams WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.as_str())
            .bind(team_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let members: Vec<(String,)> = sqlx::query_as(
        "SELECT user_id FROM team_members WHERE tenant_id = $1 AND team_id = $2 ORDER BY user_id",
    )
    .bind(tenant_id.as_str())
    .bind(team_id.as_str())
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Team {
        id: TeamId(row.text("id")?),
        name: row.text("name")?,
        members: members.into_iter().map(|(m,)| UserId(m)).collect(),
        created_at: row.time("created_at")?,
    }))
}

pub async fn teams(db: &Db, tenant_id: &TenantId) -> Result<Vec<Team>> {
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM teams WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id.as_str())
            .fetch_all(db.pool())
            .await?;
    let mut conn = db.pool().acquire().await?;
    let mut out = Vec::new();
    for (id,) in ids {
        if let Some(t) = team(&mut conn, tenant_id, &TeamId(id)).await? {
            out.push(t);
        }
    }
    Ok(out)
}

/// The ids of the teams a user belongs to.
pub async fn teams_of(db: &Db, tenant_id: &TenantId, user_id: &UserId) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT team_id FROM team_members WHERE tenant_id = $1 AND user_id = $2 ORDER BY team_id",
    )
    .bind(tenant_id.as_str())
    .bind(user_id.as_str())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

// --- customers ------------------------------------------------------------------------------

pub struct NewCustomer<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub tier: CustomerTier,
}

pub async fn insert_customer(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    c: NewCustomer<'_>,
    now: Timestamp,
) -> Result<Customer> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO customers (id, tenant_id, name, email, phone, tier, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(tenant_id.as_str())
    .bind(c.name)
    .bind(c.email)
    .bind(c.phone)
    .bind(c.tier.as_str())
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(Customer {
        id: CustomerId(id),
        name: c.name.to_owned(),
        email: c.email.map(str::to_owned),
        phone: c.phone.map(str::to_owned),
        tier: c.tier,
        created_at: now,
    })
}

pub(crate) fn customer_from_row<R: RowExt>(row: &R) -> Result<Customer> {
    in_table("customers", row, customer_columns)
}

fn customer_columns(row: &impl RowExt) -> Result<Customer> {
    Ok(Customer {
        id: CustomerId(row.text("id")?),
        name: row.text("name")?,
        email: row.opt_text("email")?,
        phone: row.opt_text("phone")?,
        tier: row.parse("tier")?,
        created_at: row.time("created_at")?,
    })
}

/// Everyone of the given tenants, and every team membership: `(users, (tenant, team, user))`.
/// What routing needs to find who a target reaches, read in two statements.
#[allow(clippy::type_complexity)]
pub async fn people_of(
    conn: &mut AnyConnection,
    tenant_ids: &[String],
) -> Result<(Vec<User>, Vec<(String, String, String)>)> {
    let mut sql = Sql::new(&format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id IN "
    ));
    let list = in_list(&mut sql, tenant_ids.iter().map(String::as_str));
    sql.push(&list).push(" ORDER BY created_at, id");
    let users = sql
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>>>()?;
    let mut sql =
        Sql::new("SELECT tenant_id, team_id, user_id FROM team_members WHERE tenant_id IN ");
    let list = in_list(&mut sql, tenant_ids.iter().map(String::as_str));
    sql.push(&list);
    let members = sql
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.text("tenant_id")?, r.text("team_id")?, r.text("user_id")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((users, members))
}

/// Platform-support staff, whom escalations to the platform reach.
pub async fn platform_staff(conn: &mut AnyConnection) -> Result<Vec<User>> {
    sqlx::query(&format!(
        "SELECT {USER_COLS} FROM users WHERE role = 'platform_support' ORDER BY created_at, id"
    ))
    .fetch_all(conn)
    .await?
    .iter()
    .map(user_from_row)
    .collect()
}

pub async fn customer(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &CustomerId,
) -> Result<Option<Customer>> {
    let row = sqlx::query(
        "SELECT id, name, email, phone, tier, created_at FROM customers WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(customer_from_row).transpose()
}

pub async fn customers(db: &Db, tenant_id: &TenantId, limit: i64) -> Result<Vec<Customer>> {
    let rows = sqlx::query(
        "SELECT id, name, email, phone, tier, created_at FROM customers WHERE tenant_id = $1 \
         ORDER BY created_at, id LIMIT $2",
    )
    .bind(tenant_id.as_str())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(customer_from_row).collect()
}
