//! Adding users, teams and customers to an organisation: each checks the command, writes the
//! row and its audit event in one transaction.

use jiff::Timestamp;
use ladder_core::text::ShortText;
use ladder_core::{AuditKind, CustomerTier, Role};
use ladder_storage::directory::{self, Customer, NewCustomer, NewUser, Team, User};
use ladder_storage::Db;
use serde_json::json;

use super::{record, Actor};
use crate::flows::{FlowError, FlowResult};

/// The command to add a user.
pub struct AddUser {
    pub email: String,
    pub name: ShortText,
    pub role: Role,
    pub password: String,
}

/// The command to create a team.
pub struct AddTeam {
    pub name: ShortText,
    pub members: Vec<String>,
}

/// The command to add a customer.
pub struct AddCustomer {
    pub name: ShortText,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tier: CustomerTier,
}

fn check_email(field: &str, email: &str) -> FlowResult<()> {
    // One rule with the document's pattern (`core::text::Email`).
    ladder_core::text::Email::new(email)
        .map(|_| ())
        .map_err(|e| FlowError::field(field, e.to_string()))
}

/// Adds a user to the actor's organisation (owners and admins only; only an owner adds an
/// owner).
pub async fn add_user(db: &Db, actor: &Actor, cmd: AddUser, now: Timestamp) -> FlowResult<User> {
    actor.require_manager("add users")?;
    check_email("email", &cmd.email)?;
    if cmd.password.trim().is_empty() {
        return Err(FlowError::field("password", "must not be only spaces"));
    }
    if cmd.password.chars().count() < 8 {
        return Err(FlowError::field(
            "password",
            "must be at least 8 characters",
        ));
    }
    // Counted in characters, as the document's `maxLength` counts them.
    if cmd.password.chars().count() > 1024 {
        return Err(FlowError::field(
            "password",
            "must be at most 1024 characters",
        ));
    }
    if cmd.role == Role::PlatformSupport {
        return Err(FlowError::field(
            "role",
            "platform support staff belong to the platform, not to an organisation",
        ));
    }
    if cmd.role == Role::Owner && actor.role != Role::Owner {
        return Err(FlowError::Forbidden(
            "only an owner may add another owner".into(),
        ));
    }
    let hash = crate::auth::hash_password(cmd.password).await?;
    let mut tx = db.write().await?;
    let user = directory::insert_user(
        tx.conn(),
        NewUser {
            tenant_id: actor.tenant(),
            email: cmd.email.trim(),
            name: cmd.name.as_str(),
            role: cmd.role,
            password_hash: &hash,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::UserCreated,
        json!({"user_id": user.id, "after": {"email": user.email, "name": user.name, "role": user.role}}),
        now,
    );
    tx.commit().await?;
    Ok(user)
}

/// Creates a team of users of the actor's organisation (owners and admins only).
pub async fn add_team(db: &Db, actor: &Actor, cmd: AddTeam, now: Timestamp) -> FlowResult<Team> {
    actor.require_manager("create teams")?;
    if cmd.members.len() > 1000 {
        return Err(FlowError::field("members", "at most 1000 members"));
    }
    let mut tx = db.write().await?;
    let found = directory::users_by_id(tx.conn(), actor.tenant(), &cmd.members).await?;
    for (i, m) in cmd.members.iter().enumerate() {
        if !found.iter().any(|u| u.id.as_str() == m) {
            return Err(FlowError::field(
                format!("members[{i}]"),
                format!("no user with id {m:?} in this organisation"),
            ));
        }
    }
    let team = directory::insert_team(
        tx.conn(),
        actor.tenant(),
        cmd.name.as_str(),
        &cmd.members,
        now,
    )
    .await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::TeamCreated,
        json!({"team_id": team.id, "after": {"name": team.name, "members": team.members}}),
        now,
    );
    tx.commit().await?;
    Ok(team)
}

/// Adds a customer (patient, client, account) to the actor's organisation (staff only).
pub async fn add_customer(
    db: &Db,
    actor: &Actor,
    cmd: AddCustomer,
    now: Timestamp,
) -> FlowResult<Customer> {
    actor.require_staff("add customers")?;
    if let Some(e) = &cmd.email {
        check_email("email", e)?;
    }
    if let Some(p) = &cmd.phone {
        if p.len() > 40
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(FlowError::field(
                "phone",
                "use digits, spaces and + - ( ) . only, at most 40 characters",
            ));
        }
    }
    let mut tx = db.write().await?;
    let c = directory::insert_customer(
        tx.conn(),
        actor.tenant(),
        NewCustomer {
            name: cmd.name.as_str(),
            email: cmd.email.as_deref(),
            phone: cmd.phone.as_deref(),
            tier: cmd.tier,
        },
        now,
    )
    .await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::CustomerCreated,
        json!({"customer_id": c.id, "after": {"name": c.name, "email": c.email, "phone": c.phone, "tier": c.tier}}),
        now,
    );
    tx.commit().await?;
    Ok(c)
}
