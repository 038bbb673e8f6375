//! Bringing an organisation's history over from the help desk it uses now: CSV files
//! (customers, tickets, comments; the columns are in the README) and the ticket JSON of a
//! Zendesk incremental export.
//!
//! Three steps. **Read**: every line is parsed into validated values (the same text rules
//! and vocabularies as the API); a bad line is recorded with its file and line number and
//! reading goes on, so one run reports them all. **Check**: references are resolved against
//! the file and the database (a ticket's customer, a comment's ticket, staff by email), and
//! what was imported before is found by its external id. **Write**, only when nothing was
//! bad and it is not a dry run: new rows in batches, each batch one write transaction with
//! its audit events (`imported: true` in their payload, with the source and the external
//! id; occurring at the import, the original instant kept in the payload, so the chain stays
//! in order). Rows already imported are left as they are, so a second run adds nothing.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use jiff::Timestamp;
use ladder_core::text::{LongText, ShortText};
use ladder_core::{
    AuditKind, Category, Channel, CustomerTier, Priority, TenantId, TicketId, TicketStatus,
};
use ladder_storage::audit::PlannedEvent;
use ladder_storage::import::{self as stored, ImportedComment, ImportedCustomer, ImportedTicket};
use ladder_storage::{directory, new_id, Db, StorageError};
use serde_json::json;

/// Rows per write transaction.
const BATCH: usize = 2_000;
/// External ids are someone else's keys: any text of a reasonable length.
const MAX_EXTERNAL_ID: usize = 200;

/// Where a row came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: u64,
}

/// A line that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub place: Place,
    pub detail: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {}: {}",
            self.place.file, self.place.line, self.detail
        )
    }
}

#[derive(Clone, Debug)]
pub struct CustomerIn {
    pub external_id: String,
    pub name: ShortText,
    pub email: Option<String>,
    pub phone: Option<ShortText>,
    pub tier: CustomerTier,
}

#[derive(Clone, Debug)]
pub struct TicketIn {
    pub external_id: String,
    pub customer: String,
    pub subject: ShortText,
    pub description: LongText,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Option<Category>,
    pub channel: Channel,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub assignee_email: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CommentIn {
    pub external_id: String,
    pub ticket: String,
    pub body: LongText,
    pub public: bool,
    pub author_email: Option<String>,
    pub created_at: Option<Timestamp>,
}

/// What was read from the files: the good rows with where each came from, and the bad lines.
#[derive(Debug, Default)]
pub struct Source {
    /// `csv` or `zendesk`, kept in the audit events.
    pub kind: &'static str,
    pub customers: Vec<(Place, CustomerIn)>,
    pub tickets: Vec<(Place, TicketIn)>,
    pub comments: Vec<(Place, CommentIn)>,
    pub bad: Vec<BadLine>,
    /// Rows left out on purpose (Zendesk's deleted tickets).
    pub skipped: usize,
}

impl Source {
    pub fn new(kind: &'static str) -> Source {
        Source {
            kind,
            ..Source::default()
        }
    }

    fn bad(&mut self, file: &str, line: u64, detail: impl Into<String>) {
        self.bad.push(BadLine {
            place: Place {
                file: file.to_owned(),
                line,
            },
            detail: detail.into(),
        });
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub customers_new: usize,
    pub customers_known: usize,
    pub tickets_new: usize,
    pub tickets_known: usize,
    pub comments_new: usize,
    pub comments_known: usize,
    pub skipped: usize,
    pub bad: Vec<BadLine>,
    /// Whether rows were written (not a dry run, and no bad line).
    pub written: bool,
}

// --- reading CSV ----------------------------------------------------------------------------

/// One CSV file's columns: which are required, which may be there.
struct Columns {
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

const CUSTOMER_COLUMNS: Columns = Columns {
    required: &["external_id", "name"],
    optional: &["email", "phone", "tier"],
};
const TICKET_COLUMNS: Columns = Columns {
    required: &[
        "external_id",
        "customer_external_id",
        "subject",
        "description",
    ],
    optional: &[
        "status",
        "priority",
        "category",
        "channel",
        "created_at",
        "updated_at",
        "assignee_email",
    ],
};
const COMMENT_COLUMNS: Columns = Columns {
    required: &["external_id", "ticket_external_id", "body"],
    optional: &["public", "author_email", "created_at"],
};

/// A record with its fields found by column name; empty fields read as absent.
struct Record<'a> {
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Record<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let i = *self.index.get(name)?;
        self.record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("{name}: is empty"))
    }
}

/// Reads a CSV file with a header line, calling `row` for each record; every line that
/// cannot be read (or that `row` refuses) is recorded as bad. Never panics, whatever the bytes.
fn read_csv(
    source: &mut Source,
    file: &str,
    input: impl Read,
    columns: &Columns,
    mut row: impl FnMut(&mut Source, Place, &Record<'_>) -> Result<(), String>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            source.bad(file, 1, format!("the header line cannot be read: {e}"));
            return;
        }
    };
    let mut index = HashMap::new();
    let mut header_ok = true;
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        if !columns.required.contains(&name.as_str()) && !columns.optional.contains(&name.as_str())
        {
            source.bad(
                file,
                1,
                format!(
                    "unknown column {name:?}; the columns are {}",
                    columns
                        .required
                        .iter()
                        .chain(columns.optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            header_ok = false;
        } else if index.insert(name.clone(), i).is_some() {
            source.bad(file, 1, format!("the column {name:?} appears twice"));
            header_ok = false;
        }
    }
    for required in columns.required {
        if !index.contains_key(*required) {
            source.bad(file, 1, format!("the column {required:?} is missing"));
            header_ok = false;
        }
    }
    if !header_ok {
        return;
    }
    if headers.is_empty() {
        source.bad(file, 1, "no header line");
        return;
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                let place = Place {
                    file: file.to_owned(),
                    line,
                };
                let r = Record {
                    index: &index,
                    record: &record,
                };
                if let Err(detail) = row(source, place, &r) {
                    source.bad(file, line, detail);
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let io = matches!(e.kind(), csv::ErrorKind::Io(_));
                source.bad(file, line, describe_csv_error(&e));
                if io {
                    break;
                }
            }
        }
    }
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".to_owned(),
        csv::ErrorKind::Io(io) => format!("cannot be read: {io}"),
        _ => format!("cannot be read: {e}"),
    }
}

fn external_id(value: &str, field: &str) -> Result<String, String> {
    if value.chars().count() > MAX_EXTERNAL_ID || value.chars().any(char::is_control) {
        return Err(format!(
            "{field}: at most {MAX_EXTERNAL_ID} characters, no control characters"
        ));
    }
    Ok(value.to_owned())
}

fn vocabulary<T: std::str::FromStr>(
    value: Option<&str>,
    field: &str,
    names: Vec<&'static str>,
    default: Option<T>,
) -> Result<Option<T>, String> {
    match value {
        None => Ok(default),
        Some(v) => v.to_lowercase().parse::<T>().map(Some).map_err(|_| {
            format!(
                "{field}: unknown value {v:?}; expected one of {}",
                names.join(", ")
            )
        }),
    }
}

fn instant(value: Option<&str>, field: &str) -> Result<Option<Timestamp>, String> {
    value
        .map(|v| {
            v.parse::<Timestamp>().map_err(|_| {
                format!("{field}: {v:?} is not an RFC 3339 instant such as 2024-03-01T09:30:00Z")
            })
        })
        .transpose()
}

fn email(value: Option<&str>, field: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.len() <= 254 && v.contains('@') && !v.chars().any(char::is_whitespace) => {
            Ok(Some(v.to_owned()))
        }
        Some(v) => Err(format!("{field}: {v:?} is not an email address")),
    }
}

fn text<T>(
    value: &str,
    field: &str,
    make: impl FnOnce(String) -> Result<T, ladder_core::text::TextError>,
) -> Result<T, String> {
    make(value.to_owned()).map_err(|e| format!("{field}: {e}"))
}

/// Reads a customers CSV file into `source`.
pub fn read_customers_csv(source: &mut Source, file: &str, input: impl Read) {
    read_csv(
        source,
        file,
        input,
        &CUSTOMER_COLUMNS,
        |source, place, r| {
            let c = CustomerIn {
                external_id: external_id(r.required("external_id")?, "external_id")?,
                name: text(r.required("name")?, "name", ShortText::new)?,
                email: email(r.get("email"), "email")?,
                phone: r
                    .get("phone")
                    .map(|p| text(p, "phone", ShortText::new))
                    .transpose()?,
                tier: vocabulary(
                    r.get("tier"),
                    "tier",
                    CustomerTier::names(),
                    Some(CustomerTier::Standard),
                )?
                .unwrap_or(CustomerTier::Standard),
            };
            source.customers.push((place, c));
            Ok(())
        },
    );
}

/// Reads a tickets CSV file into `source`.
pub fn read_tickets_csv(source: &mut Source, file: &str, input: impl Read) {
    read_csv(source, file, input, &TICKET_COLUMNS, |source, place, r| {
        let t = TicketIn {
            external_id: external_id(r.required("external_id")?, "external_id")?,
            customer: external_id(r.required("customer_external_id")?, "customer_external_id")?,
            subject: text(r.required("subject")?, "subject", ShortText::new)?,
            description: text(r.required("description")?, "description", LongText::new)?,
            status: vocabulary(
                r.get("status"),
                "status",
                TicketStatus::names(),
                Some(TicketStatus::Open),
            )?
            .unwrap_or(TicketStatus::Open),
            priority: vocabulary(
                r.get("priority"),
                "priority",
                Priority::names(),
                Some(Priority::Normal),
            )?
            .unwrap_or(Priority::Normal),
            category: vocabulary(r.get("category"), "category", Category::names(), None)?,
            channel: vocabulary(
                r.get("channel"),
                "channel",
                Channel::names(),
                Some(Channel::Email),
            )?
            .unwrap_or(Channel::Email),
            created_at: instant(r.get("created_at"), "created_at")?,
            updated_at: instant(r.get("updated_at"), "updated_at")?,
            assignee_email: email(r.get("assignee_email"), "assignee_email")?,
        };
        source.tickets.push((place, t));
        Ok(())
    });
}

/// Reads a comments CSV file into `source`.
pub fn read_comments_csv(source: &mut Source, file: &str, input: impl Read) {
    read_csv(source, file, input, &COMMENT_COLUMNS, |source, place, r| {
        let public = match r.get("public").map(str::to_lowercase).as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(v) => return Err(format!("public: {v:?} is not true or false")),
        };
        let c = CommentIn {
            external_id: external_id(r.required("external_id")?, "external_id")?,
            ticket: external_id(r.required("ticket_external_id")?, "ticket_external_id")?,
            body: text(r.required("body")?, "body", LongText::new)?,
            public,
            author_email: email(r.get("author_email"), "author_email")?,
            created_at: instant(r.get("created_at"), "created_at")?,
        };
        source.comments.push((place, c));
        Ok(())
    });
}

// --- reading Zendesk ------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct ZendeskPage {
    #[serde(default)]
    tickets: Vec<serde_json::Value>,
    #[serde(default)]
    users: Vec<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct ZendeskTicket {
    id: u64,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    description: Option<String>,
    status: String,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    requester_id: Option<u64>,
    #[serde(default)]
    assignee_id: Option<u64>,
    created_at: String,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    via: Option<ZendeskVia>,
}

#[derive(serde::Deserialize)]
struct ZendeskVia {
    #[serde(default)]
    channel: Option<String>,
}

#[derive(serde::Deserialize)]
struct ZendeskUser {
    id: u64,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// The external id of a Zendesk ticket, and of a Zendesk user become a customer.
pub fn zendesk_ticket_id(id: u64) -> String {
    format!("zendesk:{id}")
}
fn zendesk_user_id(id: u64) -> String {
    format!("zendesk-user:{id}")
}

/// Reads a Zendesk incremental ticket export into `source`: one response page
/// (`{"tickets": […], "users": […], …}`, users sideloaded with `include=users`) or several,
/// one after the other (as JSON Lines or concatenated). A bad ticket is reported by the line
/// its page starts on and its place in the page; requesters become customers (by their
/// sideloaded user, or by id alone), assignees are matched to staff by email.
pub fn read_zendesk(source: &mut Source, file: &str, input: &[u8]) {
    let mut pages = serde_json::Deserializer::from_slice(input).into_iter::<ZendeskPage>();
    let mut customers_seen = HashSet::new();
    loop {
        let offset = pages.byte_offset();
        let line = 1
            + input[..offset.min(input.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
            + input[offset.min(input.len())..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .filter(|&&b| b == b'\n')
                .count() as u64;
        let page = match pages.next() {
            None => break,
            Some(Ok(page)) => page,
            Some(Err(e)) => {
                source.bad(
                    file,
                    e.line() as u64,
                    format!("not a Zendesk export page: {e}"),
                );
                break;
            }
        };
        let mut users: HashMap<u64, ZendeskUser> = HashMap::new();
        for (i, u) in page.users.into_iter().enumerate() {
            match serde_json::from_value::<ZendeskUser>(u) {
                Ok(u) => {
                    users.insert(u.id, u);
                }
                Err(e) => source.bad(file, line, format!("users[{i}]: {e}")),
            }
        }
        for (i, t) in page.tickets.into_iter().enumerate() {
            let t = match serde_json::from_value::<ZendeskTicket>(t) {
                Ok(t) => t,
                Err(e) => {
                    source.bad(file, line, format!("tickets[{i}]: {e}"));
                    continue;
                }
            };
            let place = Place {
                file: file.to_owned(),
                line,
            };
            match zendesk_ticket(source, &place, &t, &users, &mut customers_seen) {
                Ok(Some(ticket)) => source.tickets.push((place, ticket)),
                Ok(None) => source.skipped += 1,
                Err(e) => source.bad(file, line, format!("tickets[{i}] (id {}): {e}", t.id)),
            }
        }
    }
}

fn zendesk_ticket(
    source: &mut Source,
    place: &Place,
    t: &ZendeskTicket,
    users: &HashMap<u64, ZendeskUser>,
    customers_seen: &mut HashSet<u64>,
) -> Result<Option<TicketIn>, String> {
    let status = match t.status.as_str() {
        "deleted" => return Ok(None),
        "new" => TicketStatus::New,
        "open" => TicketStatus::Open,
        "pending" | "hold" => TicketStatus::Pending,
        "solved" => TicketStatus::Resolved,
        "closed" => TicketStatus::Closed,
        other => return Err(format!("status: unknown Zendesk status {other:?}")),
    };
    let priority = match t.priority.as_deref() {
        None | Some("normal") => Priority::Normal,
        Some("low") => Priority::Low,
        Some("high") => Priority::High,
        Some("urgent") => Priority::Urgent,
        Some(other) => return Err(format!("priority: unknown Zendesk priority {other:?}")),
    };
    let channel = match t.via.as_ref().and_then(|v| v.channel.as_deref()) {
        Some("email") => Channel::Email,
        Some("voice" | "phone") => Channel::Phone,
        Some("chat" | "native_messaging" | "messaging") => Channel::Chat,
        Some("api") => Channel::Api,
        _ => Channel::Web,
    };
    let requester = t.requester_id.ok_or("requester_id: missing")?;
    if customers_seen.insert(requester) {
        let (name, email_address, phone) = match users.get(&requester) {
            Some(u) => (u.name.clone(), u.email.clone(), u.phone.clone()),
            None => (format!("Zendesk user {requester}"), None, None),
        };
        source.customers.push((
            place.clone(),
            CustomerIn {
                external_id: zendesk_user_id(requester),
                name: text(&name, "requester name", ShortText::new)?,
                email: email(email_address.as_deref(), "requester email")?,
                phone: phone
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| text(&p, "requester phone", ShortText::new))
                    .transpose()?,
                tier: CustomerTier::Standard,
            },
        ));
    }
    let assignee_email = match t.assignee_id {
        None => None,
        Some(id) => match users.get(&id) {
            Some(u) if u.role.as_deref() != Some("end-user") => u.email.clone(),
            _ => None,
        },
    };
    let description = t
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or("(no description)");
    Ok(Some(TicketIn {
        external_id: zendesk_ticket_id(t.id),
        customer: zendesk_user_id(requester),
        subject: text(
            t.subject
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or("(no subject)"),
            "subject",
            |s| ShortText::new(s.chars().take(200).collect::<String>()),
        )?,
        description: text(description, "description", LongText::new)?,
        status,
        priority,
        category: None,
        channel,
        created_at: instant(Some(&t.created_at), "created_at")?,
        updated_at: instant(t.updated_at.as_deref(), "updated_at")?,
        assignee_email,
    }))
}

// --- checking and writing -------------------------------------------------------------------

/// Checks what was read against the database and, unless `dry_run` or a line is bad, writes
/// the rows not imported before.
pub async fn run(
    db: &Db,
    tenant: &TenantId,
    mut source: Source,
    dry_run: bool,
    now: Timestamp,
) -> Result<Report, StorageError> {
    let mut bad = std::mem::take(&mut source.bad);
    // An external id twice in one file is a mistake in the file.
    fn once<T>(rows: &[(Place, T)], key: impl Fn(&T) -> &str, bad: &mut Vec<BadLine>) {
        let mut first: HashMap<&str, &Place> = HashMap::new();
        for (place, row) in rows {
            if let Some(earlier) = first.insert(key(row), place) {
                if earlier.file == place.file {
                    bad.push(BadLine {
                        place: place.clone(),
                        detail: format!(
                            "external_id {:?} is also on line {}",
                            key(row),
                            earlier.line
                        ),
                    });
                }
            }
        }
    }
    once(&source.customers, |c| &c.external_id, &mut bad);
    once(&source.tickets, |t| &t.external_id, &mut bad);
    once(&source.comments, |c| &c.external_id, &mut bad);

    let staff: HashMap<String, String> = directory::users(db, tenant)
        .await?
        .into_iter()
        .map(|u| (u.email.to_lowercase(), u.id.0))
        .collect();
    let mut conn = db.conn().await?;
    let known_customers = stored::known(
        &mut conn,
        tenant,
        stored::Table::Customers,
        &source
            .customers
            .iter()
            .map(|(_, c)| c.external_id.as_str())
            .chain(source.tickets.iter().map(|(_, t)| t.customer.as_str()))
            .collect::<Vec<_>>(),
    )
    .await?;
    let known_tickets = stored::known(
        &mut conn,
        tenant,
        stored::Table::Tickets,
        &source
            .tickets
            .iter()
            .map(|(_, t)| t.external_id.as_str())
            .chain(source.comments.iter().map(|(_, c)| c.ticket.as_str()))
            .collect::<Vec<_>>(),
    )
    .await?;
    let known_comments = stored::known(
        &mut conn,
        tenant,
        stored::Table::Comments,
        &source
            .comments
            .iter()
            .map(|(_, c)| c.external_id.as_str())
            .collect::<Vec<_>>(),
    )
    .await?;
    drop(conn);

    let file_customers: HashSet<&str> = source
        .customers
        .iter()
        .map(|(_, c)| c.external_id.as_str())
        .collect();
    let file_tickets: HashSet<&str> = source
        .tickets
        .iter()
        .map(|(_, t)| t.external_id.as_str())
        .collect();
    for (place, t) in &source.tickets {
        if !file_customers.contains(t.customer.as_str())
            && !known_customers.contains_key(&t.customer)
        {
            bad.push(BadLine {
                place: place.clone(),
                detail: format!(
                    "customer_external_id: no customer {:?} in the customers file or imported before",
                    t.customer
                ),
            });
        }
        if let Some(e) = &t.assignee_email {
            if !staff.contains_key(&e.to_lowercase()) {
                bad.push(BadLine {
                    place: place.clone(),
                    detail: format!("assignee_email: no one in the organisation has {e:?}"),
                });
            }
        }
        if let (Some(c), Some(u)) = (t.created_at, t.updated_at) {
            if u < c {
                bad.push(BadLine {
                    place: place.clone(),
                    detail: "updated_at: before created_at".into(),
                });
            }
        }
    }
    for (place, c) in &source.comments {
        if !file_tickets.contains(c.ticket.as_str()) && !known_tickets.contains_key(&c.ticket) {
            bad.push(BadLine {
                place: place.clone(),
                detail: format!(
                    "ticket_external_id: no ticket {:?} in the tickets file or imported before",
                    c.ticket
                ),
            });
        }
        if let Some(e) = &c.author_email {
            if !staff.contains_key(&e.to_lowercase()) {
                bad.push(BadLine {
                    place: place.clone(),
                    detail: format!("author_email: no one in the organisation has {e:?}"),
                });
            }
        }
    }
    bad.sort_by(|a, b| (&a.place.file, a.place.line).cmp(&(&b.place.file, b.place.line)));

    let new_customers: Vec<&CustomerIn> = source
        .customers
        .iter()
        .map(|(_, c)| c)
        .filter(|c| !known_customers.contains_key(&c.external_id))
        .collect();
    let new_tickets: Vec<&TicketIn> = source
        .tickets
        .iter()
        .map(|(_, t)| t)
        .filter(|t| !known_tickets.contains_key(&t.external_id))
        .collect();
    let new_comments: Vec<&CommentIn> = source
        .comments
        .iter()
        .map(|(_, c)| c)
        .filter(|c| !known_comments.contains_key(&c.external_id))
        .collect();
    let mut report = Report {
        customers_new: new_customers.len(),
        customers_known: source.customers.len() - new_customers.len(),
        tickets_new: new_tickets.len(),
        tickets_known: source.tickets.len() - new_tickets.len(),
        comments_new: new_comments.len(),
        comments_known: source.comments.len() - new_comments.len(),
        skipped: source.skipped,
        bad,
        written: false,
    };
    if dry_run || !report.bad.is_empty() {
        return Ok(report);
    }

    let kind = source.kind;
    let event = |kind_: AuditKind, ticket: Option<&str>, payload: serde_json::Value| PlannedEvent {
        id: ladder_core::EventId(new_id()),
        tenant_id: tenant.clone(),
        ticket_id: ticket.map(|t| TicketId(t.to_owned())),
        actor_id: None,
        kind: kind_,
        payload: payload.to_string(),
        occurred_at: now,
    };
    let mut customer_ids = known_customers;
    for batch in new_customers.chunks(BATCH) {
        let rows: Vec<ImportedCustomer<'_>> = batch
            .iter()
            .map(|c| ImportedCustomer {
                external_id: &c.external_id,
                name: c.name.as_str(),
                email: c.email.as_deref(),
                phone: c.phone.as_ref().map(ShortText::as_str),
                tier: c.tier,
            })
            .collect();
        let mut tx = db.write().await?;
        let ids = stored::insert_customers(tx.conn(), tenant, &rows, now).await?;
        let events: Vec<PlannedEvent> = batch
            .iter()
            .zip(&ids)
            .map(|(c, id)| {
                event(
                    AuditKind::CustomerCreated,
                    None,
                    json!({"imported": true, "source": kind, "external_id": c.external_id,
                           "customer_id": id, "name": c.name.as_str()}),
                )
            })
            .collect();
        tx.record_many(events);
        tx.commit().await?;
        for (c, id) in batch.iter().zip(ids) {
            customer_ids.insert(c.external_id.clone(), id);
        }
    }
    let mut ticket_ids = known_tickets;
    for batch in new_tickets.chunks(BATCH) {
        let mut rows = Vec::with_capacity(batch.len());
        for t in batch {
            let customer = customer_ids.get(&t.customer).ok_or_else(|| {
                StorageError::Config(format!(
                    "customer {:?} vanished during the import",
                    t.customer
                ))
            })?;
            let created = t.created_at.unwrap_or(now);
            rows.push(ImportedTicket {
                external_id: &t.external_id,
                customer_id: customer,
                subject: t.subject.as_str(),
                description: t.description.as_str(),
                channel: t.channel,
                category: t.category,
                priority: t.priority,
                status: t.status,
                assignee_id: t
                    .assignee_email
                    .as_ref()
                    .and_then(|e| staff.get(&e.to_lowercase()))
                    .map(String::as_str),
                created_at: created,
                updated_at: t.updated_at.unwrap_or(created),
            });
        }
        let mut tx = db.write().await?;
        let ids = stored::insert_tickets(tx.conn(), tenant, &rows).await?;
        let events: Vec<PlannedEvent> = batch
            .iter()
            .zip(&rows)
            .zip(&ids)
            .map(|((t, row), id)| {
                event(
                    AuditKind::TicketCreated,
                    Some(id),
                    json!({"imported": true, "source": kind, "external_id": t.external_id,
                           "subject": t.subject.as_str(), "status": t.status.as_str(),
                           "created_at": row.created_at.to_string()}),
                )
            })
            .collect();
        tx.record_many(events);
        tx.commit().await?;
        for (t, id) in batch.iter().zip(ids) {
            ticket_ids.insert(t.external_id.clone(), id);
        }
    }
    for batch in new_comments.chunks(BATCH) {
        let mut rows = Vec::with_capacity(batch.len());
        for c in batch {
            let ticket = ticket_ids.get(&c.ticket).ok_or_else(|| {
                StorageError::Config(format!("ticket {:?} vanished during the import", c.ticket))
            })?;
            rows.push(ImportedComment {
                external_id: &c.external_id,
                ticket_id: ticket,
                author_id: c
                    .author_email
                    .as_ref()
                    .and_then(|e| staff.get(&e.to_lowercase()))
                    .map(String::as_str),
                body: c.body.as_str(),
                public: c.public,
                created_at: c.created_at.unwrap_or(now),
            });
        }
        let mut tx = db.write().await?;
        let ids = stored::insert_comments(tx.conn(), tenant, &rows).await?;
        let events: Vec<PlannedEvent> = batch
            .iter()
            .zip(&rows)
            .zip(&ids)
            .map(|((c, row), id)| {
                let kind_ = match (row.author_id, c.public) {
                    (None, _) => AuditKind::CustomerMessage,
                    (Some(_), true) => AuditKind::Replied,
                    (Some(_), false) => AuditKind::NoteAdded,
                };
                event(
                    kind_,
                    Some(row.ticket_id),
                    json!({"imported": true, "source": kind, "external_id": c.external_id,
                           "comment_id": id, "created_at": row.created_at.to_string()}),
                )
            })
            .collect();
        tx.record_many(events);
        tx.commit().await?;
    }
    report.written = true;
    if report.customers_new + report.tickets_new + report.comments_new > 0 {
        // Everything is written by now: statistics left stale cost a re-run time, never
        // its results, so a failure here is said and the import still succeeds.
        if let Err(e) = stored::refresh_statistics(db).await {
            tracing::warn!(error = %e, "import written; refreshing the tables' statistics failed");
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Whatever the bytes, reading them reports lines; it never panics.
        #[test]
        fn arbitrary_bytes_never_panic_the_csv_reader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut source = Source::new("csv");
            read_customers_csv(&mut source, "c.csv", &bytes[..]);
            read_tickets_csv(&mut source, "t.csv", &bytes[..]);
            read_comments_csv(&mut source, "m.csv", &bytes[..]);
            read_zendesk(&mut source, "z.json", &bytes);
        }

        /// The same with a valid header first, so that the bytes reach the record reader.
        #[test]
        fn arbitrary_records_never_panic_the_csv_reader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut input = b"external_id,customer_external_id,subject,description,status,created_at\n".to_vec();
            input.extend(&bytes);
            let mut source = Source::new("csv");
            read_tickets_csv(&mut source, "t.csv", &input[..]);
            // Every record read is a ticket or a bad line, and a bad line names a line.
            prop_assert!(source.bad.iter().all(|b| b.place.line >= 1));
        }
    }

    #[test]
    fn bad_lines_are_reported_by_number_and_good_ones_read() {
        let csv = "external_id,customer_external_id,subject,description,status,created_at\n\
                   T1,C1,Broken chair,It broke.,open,2024-03-01T09:30:00Z\n\
                   T2,C1,,No subject,open,\n\
                   T3,C1,Late,Very late,lost,\n\
                   T4,C1,Late,Very late,closed,yesterday\n\
                   T5,C1,Only three\n\
                   \"T6\",C1,\"Quoted, with comma\",\"Two\nlines\",resolved,\n";
        let mut source = Source::new("csv");
        read_tickets_csv(&mut source, "tickets.csv", csv.as_bytes());
        let ids: Vec<&str> = source
            .tickets
            .iter()
            .map(|(_, t)| t.external_id.as_str())
            .collect();
        assert_eq!(ids, ["T1", "T6"]);
        let lines: Vec<u64> = source.bad.iter().map(|b| b.place.line).collect();
        assert_eq!(lines, [3, 4, 5, 6], "{:?}", source.bad);
        assert!(
            source.bad[0].detail.starts_with("subject"),
            "{}",
            source.bad[0]
        );
        assert!(
            source.bad[1].detail.starts_with("status"),
            "{}",
            source.bad[1]
        );
        assert!(
            source.bad[2].detail.starts_with("created_at"),
            "{}",
            source.bad[2]
        );
        assert_eq!(source.tickets[1].1.description.as_str(), "Two\nlines");
    }

    #[test]
    fn a_wrong_header_is_one_bad_line() {
        let mut source = Source::new("csv");
        read_customers_csv(&mut source, "c.csv", "id,name,colour\n1,A,red\n".as_bytes());
        let details: Vec<String> = source.bad.iter().map(ToString::to_string).collect();
        assert_eq!(details.len(), 3, "{details:?}");
        assert!(details.iter().all(|d| d.starts_with("c.csv line 1: ")));
        assert!(source.customers.is_empty());
    }
}
