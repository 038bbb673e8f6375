//! Finding tickets and customers: `GET /tickets` (filters, full text, keyset pages) and
//! `GET /customers?q=`.
//!
//! **Tickets.** Each ticket has one full-text document: its subject, description and every
//! comment (of a customer's reply, what precedes the quoted history: `comments.indexed_chars`,
//! migration 0098). On SQLite it is an FTS5 row (`ticket_fts`, porter stemming; matches with every
//! word in the subject first, then the newest); on PostgreSQL a `tsvector` in `ticket_search` with a GIN index
//! (English stemming, subject weight A, description B, comments C, ranked by `ts_rank`).
//! Triggers in the migrations keep both in step with `tickets` and `comments` inside the
//! writing transaction, so a comment written by any code path is found at once.
//!
//! A query's words are all required (AND). Results with words come best first, by a score
//! (ascending: the SQLite bucket and recency, and `ts_rank` negated) then ticket id, among the newest
//! [`RANKED_CANDIDATES`] matches within the scope and the filters (ranking costs a score per
//! match); without words, newest first.
//! Either way the page key is that order's key, `(score, id)` or `(created_at, id)`, and the
//! cursor carries the last row's key: the next page starts strictly after it, so pages have
//! neither gaps nor repeats while the matching documents stay as they are (a score depends on
//! the whole index, so a page read after new text arrived may order by the new scores).
//!
//! **Customers.** Substrings of name, email and phone (the phone's digits only, and a query
//! that looks like a phone number is reduced to its digits) through a trigram index: FTS5's
//! `trigram` tokenizer on SQLite, `pg_trgm` on PostgreSQL. Queries shorter than three
//! characters have no trigram and match the start of the name instead.

use jiff::Timestamp;
use ladder_core::{
    Category, Channel, CustomerId, Priority, TeamId, TenantId, TicketStatus, UserId,
};
use sqlx::AnyConnection;

use crate::db::Backend;
use crate::directory::{customer_from_row, Customer};
use crate::row::{id_floor, micros};
use crate::sql::Sql;
use crate::tickets::{ticket_from_row, Ticket, TICKET_COLS};
use crate::{Result, StorageError};

/// The most words a query may have; more is refused at the edge.
pub const MAX_WORDS: usize = 16;

/// Whose tickets a search may find: an organisation's (its staff), or platform support's,
/// which are the tickets of any organisation escalated to the platform (as for reading one).
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    Tenant(&'a TenantId),
    Platform,
}

/// The assignee filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignee {
    User(UserId),
    Nobody,
}

/// What `GET /tickets` asks for, validated.
#[derive(Clone, Debug, Default)]
pub struct TicketQuery {
    /// The words to find (see [`words`]), all of them; empty lists without full text.
    pub words: Vec<String>,
    pub status: Option<TicketStatus>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub customer_id: Option<CustomerId>,
    pub assignee: Option<Assignee>,
    pub team_id: Option<TeamId>,
    /// Has (`true`) or has not (`false`) ever been escalated.
    pub escalated: Option<bool>,
    pub created_from: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub updated_from: Option<Timestamp>,
    pub updated_before: Option<Timestamp>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// Where the previous page ended: the key of its last row in the page's order.
#[derive(Clone, Debug, PartialEq)]
pub enum Cursor {
    /// A list without words, newest first: the last row's `created_at` and id.
    Newest { created_at: i64, id: String },
    /// A full-text search: the last row's score (its exact bits) and id.
    Ranked { score: f64, id: String },
}

/// [`Cursor::parse`]'s rule as a regular expression, for the API document: a score is finite
/// unless its first three hex digits (sign and exponent) are `7ff` or `fff`.
pub const CURSOR_PATTERN: &str = "^(n-?[0-9]{1,18}|r([0-6][0-9a-f]{2}|7[0-9a-e][0-9a-f]|7f[0-9a-e]|[89a-e][0-9a-f]{2}|f[0-9a-e][0-9a-f]|ff[0-9a-e])[0-9a-f]{13})\\.[0-9a-zA-Z]+$";

impl Cursor {
    /// The cursor as the client gets it: opaque, but plain text (`n<micros>.<id>` or
    /// `r<score bits in hex>.<id>`).
    pub fn encode(&self) -> String {
        match self {
            Cursor::Newest { created_at, id } => format!("n{created_at}.{id}"),
            Cursor::Ranked { score, id } => format!("r{:016x}.{id}", score.to_bits()),
        }
    }

    /// Reads back a cursor that [`Cursor::encode`] wrote; `None` for anything else. Exactly
    /// what [`CURSOR_PATTERN`] says: `n` and at most 18 decimal digits (an instant in
    /// microseconds, as far as year 33,000), or `r` and 16 lower-case hex digits of a finite
    /// score; `.` and the id.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (key, id) = text.get(1..)?.split_once('.')?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        match text.as_bytes().first()? {
            b'n' => {
                let digits = key.strip_prefix('-').unwrap_or(key);
                if digits.is_empty()
                    || digits.len() > 18
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                Some(Cursor::Newest {
                    created_at: key.parse().ok()?,
                    id: id.to_owned(),
                })
            }
            b'r' if key.len() == 16
                && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                let score = f64::from_bits(u64::from_str_radix(key, 16).ok()?);
                score.is_finite().then(|| Cursor::Ranked {
                    score,
                    id: id.to_owned(),
                })
            }
            _ => None,
        }
    }
}

/// A page of found tickets.
#[derive(Clone, Debug)]
pub struct Found {
    pub items: Vec<Ticket>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The words of a query as the indexes hold them: runs of letters and digits, lower-cased.
/// Everything else separates words, so no character of a query can reach FTS5's or
/// `to_tsquery`'s syntax.
pub fn words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in q.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        let w = w.to_lowercase();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Finds tickets: with words, best match first; without, newest first. Every filter and the
/// scope apply in the same statement, and the page stops at `limit`.
pub async fn tickets(
    conn: &mut AnyConnection,
    scope: Scope<'_>,
    query: &TicketQuery,
    now: Timestamp,
) -> Result<Found> {
    let backend = Backend::of(conn);
    let ranked = !query.words.is_empty();
    let mut sql = if ranked {
        // The scope and the filters choose the candidates, before the cap: "refund" among
        // last year's tickets finds last year's, however many newer tickets say it.
        full_text(backend, scope, query, now)
    } else {
        let mut sql = Sql::new(&format!("SELECT {TICKET_COLS} FROM tickets t WHERE 1 = 1"));
        scoped(&mut sql, scope, "t.tenant_id", "t.id");
        filters(&mut sql, query, "t");
        sql
    };
    if let Scope::Tenant(tenant) = scope {
        // On the ticket row itself too when ranked: the document's tenant is checked twice.
        if ranked {
            let p = sql.text_arg(tenant.0.clone());
            sql.push(&format!(" AND t.tenant_id = {p}"));
        }
    }
    match (&query.cursor, ranked) {
        (None, _) => {}
        (Some(Cursor::Ranked { score, id }), true) => {
            let s = sql.arg(*score);
            let s2 = sql.arg(*score);
            let i = sql.text_arg(id.clone());
            sql.push(&format!(
                " AND (m.score > {s} OR (m.score = {s2} AND t.id > {i}))"
            ));
        }
        (Some(Cursor::Newest { created_at, id }), false) => {
            let c = sql.int_arg(*created_at);
            let c2 = sql.int_arg(*created_at);
            let i = sql.text_arg(id.clone());
            sql.push(&format!(
                " AND (t.created_at < {c} OR (t.created_at = {c2} AND t.id < {i}))"
            ));
        }
        (Some(_), _) => {
            return Err(StorageError::Config(
                "cursor: it belongs to a search with other words".into(),
            ))
        }
    }
    let l = sql.int_arg(query.limit + 1);
    if ranked {
        sql.push(&format!(" ORDER BY m.score, t.id LIMIT {l}"));
    } else {
        sql.push(&format!(" ORDER BY t.created_at DESC, t.id DESC LIMIT {l}"));
    }
    let rows = if ranked {
        sql.fetch_all_planned_each_time(conn).await?
    } else {
        sql.fetch_all(conn).await?
    };
    let mut items = Vec::with_capacity(rows.len());
    let mut last_score = 0.0;
    for row in rows.iter().take(query.limit as usize) {
        if ranked {
            use sqlx::Row;
            last_score = row
                .try_get::<f64, _>("score")
                .map_err(|e| StorageError::Corrupt {
                    table: "tickets",
                    detail: format!("a search score that does not read back: {e}"),
                })?;
        }
        items.push(ticket_from_row(row)?);
    }
    let next_cursor = match items.last() {
        Some(t) if rows.len() > query.limit as usize => Some(
            if ranked {
                Cursor::Ranked {
                    score: last_score,
                    id: t.id.0.clone(),
                }
            } else {
                Cursor::Newest {
                    created_at: micros(t.created_at),
                    id: t.id.0.clone(),
                }
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(Found { items, next_cursor })
}

/// The most matching tickets a search ranks: the newest this many matches within the
/// filters (by document number on SQLite, by id — time-ordered UUIDv7 — on PostgreSQL).
/// Ranking costs work per match, and so does finding the newest matches of a common word
/// (walking the newest documents until this many have it); past this many, a person adds
/// words or a filter, which choose the candidates. Pages continue within the same set.
/// 300 keeps a search of a million tickets under 50 ms at p99 on both databases
/// (`benches/search.rs`; at 1,000 a middling word took 80 ms on PostgreSQL, two words 82 ms
/// on SQLite).
pub const RANKED_CANDIDATES: i64 = 300;

/// Limits a query to the tickets `scope` may see, given the columns that hold a row's
/// tenant and ticket id (the ticket's own, or a search document's).
fn scoped(sql: &mut Sql, scope: Scope<'_>, tenant_col: &str, ticket_col: &str) {
    match scope {
        Scope::Tenant(tenant) => {
            let p = sql.text_arg(tenant.0.clone());
            sql.push(&format!(" AND {tenant_col} = {p}"));
        }
        Scope::Platform => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM escalations pe WHERE pe.ticket_id = {ticket_col} \
                 AND pe.target_key = 'platform')"
            ));
        }
    }
}

/// The head of a ranked search: the matching documents with their scores as `m`, joined to
/// their tickets as `t`, ending in an open `WHERE`. The candidates (the newest
/// [`RANKED_CANDIDATES`] matches) are chosen within the scope and the filters; the ticket
/// row (as `f`) is joined for that only when there are filters, as the search table has the
/// tenant of its own.
fn full_text(backend: Backend, scope: Scope<'_>, q: &TicketQuery, now: Timestamp) -> Sql {
    let words = &q.words;
    match backend {
        Backend::Sqlite => {
            // Each word a quoted FTS5 string (words hold letters and digits only), all
            // required. FTS5 walks its matches newest first and stops at the cap. They are
            // ranked without bm25: its inverse document frequency walks every match of each
            // word, so a word found in a fifth of a million tickets cost 50-150 ms whatever
            // the cap. The score is the bucket (every word in the subject: 0, else 1e15)
            // minus the document number: subject matches first, newest first within each,
            // exact as a float (document numbers stay far below 2^53).
            let expr = words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" AND ");
            let mut sql = Sql::new(
                "WITH a AS MATERIALIZED (SELECT ticket_fts.rowid AS doc FROM ticket_fts \
                 JOIN ticket_search s0 ON s0.doc = ticket_fts.rowid",
            );
            if has_filters(q) {
                sql.push(" JOIN tickets f ON f.id = s0.ticket_id");
            }
            sql.push(" WHERE ticket_fts MATCH ");
            let m = sql.text_arg(expr.clone());
            sql.push(&m.to_string());
            scoped(&mut sql, scope, "s0.tenant_id", "s0.ticket_id");
            filters(&mut sql, q, "f");
            let cap = sql.int_arg(RANKED_CANDIDATES);
            let in_subject = sql.text_arg(format!("{{subject}} : ({expr})"));
            sql.push(&format!(
                " ORDER BY ticket_fts.rowid DESC LIMIT {cap}), \
                 m AS MATERIALIZED (SELECT a.doc, (CASE WHEN a.doc IN (\
                 SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH {in_subject} \
                 AND rowid >= (SELECT min(doc) FROM a)) THEN 0.0 ELSE 1e15 END) - a.doc \
                 AS score FROM a) \
                 SELECT {TICKET_COLS}, m.score AS score FROM m \
                 JOIN ticket_search s ON s.doc = m.doc \
                 JOIN tickets t ON t.id = s.ticket_id WHERE 1 = 1"
            ));
            sql
        }
        Backend::Postgres => {
            // `to_tsquery` over the words joined by `&`: each word is letters and digits, so
            // the text has no operator of its own. It is written out in the condition (not
            // joined in as a row) so that the planner, which sees the words (the statement
            // is planned for each search), estimates how many tickets have them: a rare
            // word is read through the GIN index, a common one by walking the newest
            // tickets backwards until the cap is reached. The newest matches are capped
            // before they are ranked.
            //
            // Every match read through GIN is a visit to a heap page (a word in 6,000 of a
            // million tickets: 50 ms at p99), so the newest are looked for among the recent
            // tickets first, a range of ids (minted at creation) that the BRIN index of
            // migration 100099 intersects with the matches before the heap is read. The
            // older are searched only when those hold fewer than the cap (a one-time
            // filter), so the candidates are the same either way.
            let floor = id_floor(recent_from(now));
            // PostgreSQL's placeholders are numbered: the cap and the floor are bound once.
            let mut sql = Sql::new("WITH recent AS MATERIALIZED (");
            let cap = sql.int_arg(RANKED_CANDIDATES);
            let f = sql.text_arg(floor);
            candidates(&mut sql, scope, q, &format!(" AND s.ticket_id >= {f}"), cap);
            sql.push("), older AS (");
            candidates(
                &mut sql,
                scope,
                q,
                &format!(" AND s.ticket_id < {f} AND (SELECT count(*) FROM recent) < {cap}"),
                cap,
            );
            let t1 = sql.text_arg(words.join(" & "));
            sql.push(&format!(
                ") SELECT {TICKET_COLS}, m.score AS score FROM (\
                 SELECT c.ticket_id, -(ts_rank(c.doc, to_tsquery('english', {t1}))::float8) \
                 AS score FROM (SELECT * FROM recent UNION ALL SELECT * FROM older \
                 ORDER BY ticket_id DESC LIMIT {cap}) c) m \
                 JOIN tickets t ON t.id = m.ticket_id WHERE 1 = 1"
            ));
            sql
        }
    }
}

/// How far back a PostgreSQL search looks first for its newest matches: an eighth of the
/// benchmark's two years, where a word in 0.3% of tickets still has its newest 300.
const RECENT: jiff::SignedDuration = jiff::SignedDuration::from_hours(90 * 24);

fn recent_from(now: Timestamp) -> Timestamp {
    now.checked_sub(RECENT).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The newest [`RANKED_CANDIDATES`] documents on PostgreSQL with the words of `q`, within
/// the scope, the filters and the id range `range`, as `(ticket_id, doc)`.
fn candidates(
    sql: &mut Sql,
    scope: Scope<'_>,
    q: &TicketQuery,
    range: &str,
    cap: crate::sql::Mark,
) {
    sql.push("SELECT s.ticket_id, s.doc FROM ticket_search s");
    // The status is the search row's own copy, in the same GIN index as the words: only
    // the matches with it are read, and the ticket row is joined only for the other
    // filters (migration 100098).
    let rest = TicketQuery {
        status: None,
        ..q.clone()
    };
    if has_filters(&rest) {
        sql.push(" JOIN tickets f ON f.id = s.ticket_id");
    }
    let words = sql.text_arg(q.words.join(" & "));
    sql.push(&format!(" WHERE s.doc @@ to_tsquery('english', {words})"));
    if let Some(status) = q.status {
        let p = sql.text_arg(status.as_str().to_owned());
        sql.push(&format!(" AND s.status = {p}"));
    }
    scoped(sql, scope, "s.tenant_id", "s.ticket_id");
    filters(sql, &rest, "f");
    sql.push(range);
    sql.push(&format!(" ORDER BY s.ticket_id DESC LIMIT {cap}"));
}

/// Whether any filter (other than the words) is set.
fn has_filters(q: &TicketQuery) -> bool {
    q.status.is_some()
        || q.category.is_some()
        || q.priority.is_some()
        || q.channel.is_some()
        || q.customer_id.is_some()
        || q.team_id.is_some()
        || q.assignee.is_some()
        || q.escalated.is_some()
        || q.created_from.is_some()
        || q.created_before.is_some()
        || q.updated_from.is_some()
        || q.updated_before.is_some()
}

/// The filters of `q` on the tickets table named `t`.
fn filters(sql: &mut Sql, q: &TicketQuery, t: &str) {
    let eq = |sql: &mut Sql, col: &str, v: Option<String>| {
        if let Some(v) = v {
            let p = sql.text_arg(v);
            sql.push(&format!(" AND {col} = {p}"));
        }
    };
    eq(
        sql,
        &format!("{t}.status"),
        q.status.map(|s| s.as_str().to_owned()),
    );
    eq(
        sql,
        &format!("{t}.category"),
        q.category.map(|c| c.as_str().to_owned()),
    );
    eq(
        sql,
        &format!("{t}.priority"),
        q.priority.map(|p| p.as_str().to_owned()),
    );
    eq(
        sql,
        &format!("{t}.channel"),
        q.channel.map(|c| c.as_str().to_owned()),
    );
    eq(
        sql,
        &format!("{t}.customer_id"),
        q.customer_id.as_ref().map(|c| c.0.clone()),
    );
    eq(
        sql,
        &format!("{t}.team_id"),
        q.team_id.as_ref().map(|c| c.0.clone()),
    );
    match &q.assignee {
        Some(Assignee::User(u)) => eq(sql, &format!("{t}.assignee_id"), Some(u.0.clone())),
        Some(Assignee::Nobody) => {
            sql.push(&format!(" AND {t}.assignee_id IS NULL"));
        }
        None => {}
    }
    match q.escalated {
        Some(true) => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM escalations xe WHERE xe.ticket_id = {t}.id)"
            ));
        }
        Some(false) => {
            sql.push(&format!(
                " AND NOT EXISTS (SELECT 1 FROM escalations xe WHERE xe.ticket_id = {t}.id)"
            ));
        }
        None => {}
    }
    let range = |sql: &mut Sql, col: &str, op: &str, v: Option<Timestamp>| {
        if let Some(v) = v {
            let p = sql.int_arg(micros(v));
            sql.push(&format!(" AND {col} {op} {p}"));
        }
    };
    range(sql, &format!("{t}.created_at"), ">=", q.created_from);
    range(sql, &format!("{t}.created_at"), "<", q.created_before);
    range(sql, &format!("{t}.updated_at"), ">=", q.updated_from);
    range(sql, &format!("{t}.updated_at"), "<", q.updated_before);
}

// --- customers ------------------------------------------------------------------------------

/// What a customer query looks for: a run of digits (a query made of digits and a phone
/// number's punctuation), or lower-cased text.
fn customer_needle(q: &str) -> String {
    let q = q.trim();
    let phone_like = q.chars().any(|c| c.is_ascii_digit())
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '+' | '.' | '/'));
    if phone_like {
        q.chars().filter(char::is_ascii_digit).collect()
    } else {
        q.to_lowercase()
    }
}

/// Customers whose name, email or phone digits contain `q` (or, for one or two characters,
/// whose name starts with it): at most `limit`, by name. With more matches than `limit`,
/// which ones come is the index's choice: the query narrows as a person types.
pub async fn customers(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    q: &str,
    limit: i64,
) -> Result<Vec<Customer>> {
    let needle = customer_needle(q);
    let backend = Backend::of(conn);
    let cols = "c.id, c.name, c.email, c.phone, c.tier, c.created_at";
    let mut sql;
    if needle.chars().count() < 3 {
        let hi = format!("{needle}\u{10FFFF}");
        let name = match backend {
            Backend::Sqlite => "lower(c.name)",
            Backend::Postgres => "(lower(c.name) COLLATE \"C\")",
        };
        sql = Sql::new(&format!(
            "SELECT {cols} FROM customers c WHERE c.tenant_id = "
        ));
        let t = sql.text_arg(tenant_id.0.clone());
        let lo = sql.text_arg(needle);
        let hi = sql.text_arg(hi);
        let l = sql.int_arg(limit);
        sql.push(&format!(
            "{t} AND {name} >= {lo} AND {name} < {hi} ORDER BY {name}, c.id LIMIT {l}"
        ));
    } else {
        match backend {
            Backend::Sqlite => {
                sql = Sql::new(&format!(
                    "SELECT {cols} FROM customer_fts f \
                     JOIN customer_search s ON s.doc = f.rowid \
                     JOIN customers c ON c.id = s.customer_id WHERE customer_fts MATCH "
                ));
                // One FTS5 string: the trigram tokenizer matches it as a substring.
                let m = sql.text_arg(format!("\"{}\"", needle.replace('"', "\"\"")));
                let t = sql.text_arg(tenant_id.0.clone());
                let l = sql.int_arg(limit);
                sql.push(&format!(
                    "{m} AND s.tenant_id = {t} AND c.tenant_id = {t} LIMIT {l}"
                ));
            }
            Backend::Postgres => {
                sql = Sql::new(&format!(
                    "SELECT {cols} FROM customers c WHERE c.tenant_id = "
                ));
                let t = sql.text_arg(tenant_id.0.clone());
                let p = sql.text_arg(crate::lookup::contains_pattern(&needle));
                let l = sql.int_arg(limit);
                sql.push(&format!(
                    "{t} AND ladder_customer_doc(c.name, c.email, c.phone) LIKE {p} ESCAPE '\\' \
                     LIMIT {l}"
                ));
            }
        }
    }
    let rows = sql.fetch_all(conn).await?;
    let mut found = rows
        .iter()
        .map(customer_from_row)
        .collect::<Result<Vec<_>>>()?;
    found.sort_by(|a, b| (a.name.to_lowercase(), &a.id.0).cmp(&(b.name.to_lowercase(), &b.id.0)));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_they_did_not_write() {
        for c in [
            Cursor::Newest {
                created_at: -5,
                id: "abc123".into(),
            },
            Cursor::Ranked {
                score: -1.234_567_890_123e-7,
                id: "0190ffee".into(),
            },
        ] {
            assert_eq!(Cursor::parse(&c.encode()), Some(c));
        }
        for bad in [
            "",
            "n",
            "n12",
            "n12.",
            "x12.ab",
            "rzz.ab",
            "n1.a'b",
            "r7ff0000000000000.a",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn words_keep_letters_and_digits_only() {
        assert_eq!(
            words("Refund \"order\" #12345 AND-NOT (ÉTÉ) refund"),
            vec!["refund", "order", "12345", "and", "not", "été"]
        );
        assert!(words(" *:\"() ").is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a client types, no word carries a character of FTS5's or `to_tsquery`'s
        /// syntax, nor whitespace, and none is empty.
        #[test]
        fn arbitrary_queries_yield_only_plain_words(q in "\\PC*", raw in proptest::collection::vec(proptest::prelude::any::<char>(), 0..64)) {
            let raw: String = raw.into_iter().collect();
            for text in [q.as_str(), raw.as_str()] {
                for w in words(text) {
                    proptest::prop_assert!(!w.is_empty());
                    proptest::prop_assert!(
                        !w.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'&|!():*<>\\-+^{}[],;.".contains(c)),
                        "{w:?} from {text:?}"
                    );
                }
                let _ = customer_needle(text);
            }
        }

        /// Arbitrary text never panics the cursor reader, what it reads writes back the same,
        /// and it reads exactly what the document's pattern allows.
        #[test]
        fn arbitrary_cursors_are_read_or_refused(text in "[nrx+]?-?[0-9a-fA-F+.\\-]{0,24}|\\PC{0,40}|r[0-9a-f]{16}\\.[a-z0-9]{1,4}|n-?[0-9]{1,20}\\.[a-z0-9]{1,4}") {
            let parsed = Cursor::parse(&text);
            let pattern = regex::Regex::new(CURSOR_PATTERN).expect("the pattern compiles");
            proptest::prop_assert_eq!(parsed.is_some(), pattern.is_match(&text), "{:?}", text);
            if let Some(c) = parsed {
                proptest::prop_assert_eq!(Cursor::parse(&c.encode()), Some(c));
            }
        }
    }

    #[test]
    fn phone_like_queries_become_digits() {
        assert_eq!(customer_needle("+1 (555) 012-4567"), "15550124567");
        assert_eq!(customer_needle("Olivia Smith"), "olivia smith");
        assert_eq!(customer_needle("room 12"), "room 12");
    }
}
