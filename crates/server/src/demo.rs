//! The demo clinic loaded by `ladder serve --demo` on an empty database, so a newcomer can
//! click through the flows at once.

use jiff::Timestamp;
use ladder_core::AuditKind;
use ladder_core::{Category, Channel, ContactMethod, CustomerTier, Role, Target, Urgency};
use ladder_storage::directory::{self, NewCustomer, NewUser, User};
use ladder_storage::Db;
use serde_json::json;

use crate::auth::hash_password;
use crate::flows::escalation::{self, Escalate};
use crate::flows::tickets::{self, AddComment, OpenTicket};
use crate::flows::{record, Actor};
use crate::provision;

/// Who opens it, which customer (index), subject, text, channel, category.
type DemoTicket<'a> = (
    &'a Actor,
    usize,
    &'a str,
    &'a str,
    Channel,
    Option<Category>,
);

pub const SLUG: &str = "demo";
pub const PASSWORD: &str = "ladder-demo";

/// What was created, for the start-up message.
pub struct Demo {
    pub logins: Vec<(String, Role)>,
}

fn actor(user: &User, teams: Vec<String>) -> Actor {
    Actor::of_user(user, teams)
}

fn text<const N: usize, const L: bool>(s: &str) -> anyhow::Result<ladder_core::text::Text<N, L>> {
    ladder_core::text::Text::new(s).map_err(|e| anyhow::anyhow!("demo text {s:?}: {e}"))
}

/// Loads the demo clinic; does nothing when the database already has an organisation.
pub async fn load_if_empty(db: &Db, now: Timestamp) -> anyhow::Result<Option<Demo>> {
    if directory::count_tenants(db).await? > 0 {
        return Ok(None);
    }
    let (tenant, owner) = provision::create_tenant(
        db,
        "Bright Smile Dental",
        Some(SLUG),
        "olivia@brightsmile.example",
        "Dr Olivia Hart",
        PASSWORD,
        now,
    )
    .await?;
    let hash = hash_password(PASSWORD.to_owned()).await?;
    let mut tx = db.write().await?;
    let mut staff = Vec::new();
    for (email, name, role) in [
        ("adam@brightsmile.example", "Adam Reyes", Role::Admin),
        ("rita@brightsmile.example", "Rita Gomez", Role::Agent),
        ("ravi@brightsmile.example", "Ravi Patel", Role::Agent),
        ("bella@brightsmile.example", "Bella Chen", Role::Agent),
    ] {
        let u = directory::insert_user(
            tx.conn(),
            NewUser {
                tenant_id: &tenant.id,
                email,
                name,
                role,
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
            json!({"user_id": u.id, "after": {"email": email, "role": role}}),
            now,
        );
        staff.push(u);
    }
    let team = directory::insert_team(
        tx.conn(),
        &tenant.id,
        "Admin team",
        &[owner.id.0.clone(), staff[0].id.0.clone()],
        now,
    )
    .await?;
    directory::insert_team(
        tx.conn(),
        &tenant.id,
        "Billing",
        &[staff[3].id.0.clone()],
        now,
    )
    .await?;
    let mut customers = Vec::new();
    for (name, email, phone, tier) in [
        (
            "Maria Lopez",
            "maria.lopez@example.com",
            "+1 555 0101",
            CustomerTier::Standard,
        ),
        (
            "James O'Neill",
            "james.oneill@example.com",
            "+1 555 0102",
            CustomerTier::Standard,
        ),
        (
            "Priya Shah",
            "priya.shah@example.com",
            "+1 555 0103",
            CustomerTier::Vip,
        ),
        (
            "Tom Becker",
            "tom.becker@example.com",
            "+1 555 0104",
            CustomerTier::Standard,
        ),
        (
            "Henderson Family",
            "hendersons@example.com",
            "+1 555 0105",
            CustomerTier::HighValue,
        ),
        (
            "Lucy Wright",
            "lucy.wright@example.com",
            "+1 555 0106",
            CustomerTier::Standard,
        ),
    ] {
        let c = directory::insert_customer(
            tx.conn(),
            &tenant.id,
            NewCustomer {
                name,
                email: Some(email),
                phone: Some(phone),
                tier,
            },
            now,
        )
        .await?;
        customers.push(c);
    }
    tx.commit().await?;

    let rita = actor(&staff[1], vec![]);
    let ravi = actor(&staff[2], vec![]);
    let bella = actor(&staff[3], vec![]);
    let tickets_spec: [DemoTicket; 12] = [
        (&rita, 0, "Charged for a crown I never had", "I was billed $1,200 for a crown on my last visit but I only had a cleaning. If this isn't fixed I'll sue for false advertising.", Channel::Email, Some(Category::Billing)),
        (&rita, 1, "The dentist hurt me during the extraction", "My jaw has been swollen for a week after the extraction and the dentist hurt me. I want to speak to the owner.", Channel::Phone, Some(Category::Clinical)),
        (&ravi, 2, "Reschedule my cleaning", "Could I move my cleaning from Tuesday to Thursday afternoon? Thanks!", Channel::Web, None),
        (&ravi, 3, "Third time asking about my refund", "This is the third time I'm emailing about the refund for the cancelled whitening. Nobody got back to me.", Channel::Email, Some(Category::Billing)),
        (&bella, 4, "Insurance claim question", "Can you send the itemised invoice to our insurer for the kids' check-ups?", Channel::Email, Some(Category::Billing)),
        (&rita, 5, "Front desk was rude", "The receptionist was RUDE to my mother on Friday. Unacceptable. I'm posting about this on Facebook.", Channel::Chat, Some(Category::Complaint)),
        (&ravi, 0, "Post-op soreness", "The filling hurt a bit yesterday but that's expected, right? Just checking if I can take ibuprofen.", Channel::Web, None),
        (&bella, 1, "Payment plan", "Is there a payment plan for the implant? My lawyer appointment is on Tuesday so Wednesday works for a call.", Channel::Phone, Some(Category::Pricing)),
        (&rita, 2, "Online booking page down", "The online booking page shows an error when I try to pick a time.", Channel::Web, Some(Category::Technical)),
        (&ravi, 3, "Complaint to the dental board", "I have filed a complaint with the state dental board about the treatment I received.", Channel::Email, Some(Category::Legal)),
        (&bella, 4, "Thank you!", "Thanks for sorting out the invoice last month, all good now. I'll leave you a great Google review.", Channel::Email, None),
        (&rita, 5, "Need an earlier appointment", "Any chance of an earlier slot? My tooth is killing me.", Channel::Phone, Some(Category::Other)),
    ];
    let mut created = Vec::new();
    for (who, c, subject, body, channel, category) in tickets_spec {
        let v = tickets::create(
            db,
            who,
            OpenTicket {
                subject: text(subject)?,
                description: text(body)?,
                customer_id: customers[c].id.clone(),
                channel,
                category,
                priority: None,
                assignee_id: None,
                team_id: None,
            },
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo ticket: {e}"))?;
        created.push(v.ticket.id);
    }
    // One escalation already waiting for the owner, one for the Admin team.
    escalation::escalate(
        db,
        &rita,
        &created[0],
        Escalate {
            target: None,
            category: Category::Legal,
            note: text("Patient says she was charged for a crown she never received and mentions suing. Needs the owner to review records and reply directly.")?,
            tried: Some(text("Checked the visit notes: only a cleaning is recorded.")?),
            contact_method: ContactMethod::Call,
            urgency: Urgency::Urgent,
            triggers: vec![ladder_core::TriggerKind::LegalThreat, ladder_core::TriggerKind::BillingDispute],
        },
        escalation::Carried::Chosen,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo escalation: {e}"))?;
    escalation::escalate(
        db,
        &ravi,
        &created[3],
        Escalate {
            target: Some(Target::Team { id: team.id.clone() }),
            category: Category::Billing,
            note: text("Refund for cancelled whitening promised weeks ago; patient has written three times.")?,
            tried: None,
            contact_method: ContactMethod::Email,
            urgency: Urgency::Standard,
            triggers: vec![ladder_core::TriggerKind::RepeatContact],
        },
        escalation::Carried::Chosen,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo escalation: {e}"))?;
    tickets::comment(
        db,
        &bella,
        &created[4],
        AddComment {
            body: text("Sent the itemised invoice to the insurer.")?,
            public: false,
            from_customer: false,
            logged_call: false,
        },
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo comment: {e}"))?;

    let mut logins = vec![(owner.email.clone(), Role::Owner)];
    logins.extend(staff.iter().map(|u| (u.email.clone(), u.role)));
    Ok(Some(Demo { logins }))
}
