//! SQL text with numbered placeholders and its arguments, built together so that the numbers
//! always match (sqlx's query builder writes `?` for `Any`, which PostgreSQL rejects). Used
//! for dynamic filters and for multi-row statements that write a whole batch of timers at once.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Arguments, Encode, Type};

use crate::{Backend, Result, StorageError};

/// What stands for a value in SQL text: a numbered placeholder, or a constant written as is.
/// Written straight into the text, without a string of its own: a batch has thousands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Param(usize),
    Lit(&'static str),
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mark::Param(n) => write!(f, "${n}"),
            Mark::Lit(text) => f.write_str(text),
        }
    }
}

impl Mark {
    /// Appends the mark to `text`, as `Display` would; without `fmt`'s machinery, which cost
    /// more than the rest of writing a batch's statement text.
    fn write_to(self, text: &mut String) {
        match self {
            Mark::Param(n) => {
                text.push('$');
                text.push_str(itoa::Buffer::new().format(n));
            }
            Mark::Lit(lit) => text.push_str(lit),
        }
    }
}

pub(crate) struct Sql {
    pub text: String,
    pub args: AnyArguments<'static>,
    n: usize,
}

/// Values per `IN` list.
pub(crate) const CHUNK: usize = 500;

/// Rows per multi-row statement of `cols` values each: about 2,000 values, so that a batch
/// of a few hundred rows goes in a handful of statements (each is a round trip, and on
/// SQLite a hand-off to its thread), while each prepared statement stays small enough to
/// keep in the statement cache.
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (2000 / cols.max(1)).clamp(1, 500)
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: AnyArguments::default(),
            n: 0,
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Binds a value and returns its placeholder. A `&'static str` (a vocabulary value) is
    /// bound without a copy; sqlx's `Any` copies a `String` once more as it binds it.
    pub fn arg<T>(&mut self, v: T) -> Mark
    where
        T: Encode<'static, Any> + Type<Any> + Send + 'static,
    {
        self.n += 1;
        // Adding a value to AnyArguments only fails for types the Any driver does not know,
        // and every type bound here is one it knows.
        let _ = self.args.add(v);
        Mark::Param(self.n)
    }

    pub fn text_arg(&mut self, v: String) -> Mark {
        self.arg(v)
    }

    pub fn int_arg(&mut self, v: i64) -> Mark {
        self.arg(v)
    }

    /// Appends `(p1, p2, …)` for one row whose values `row` binds.
    pub fn row(&mut self, first: bool, row: impl FnOnce(&mut Sql) -> Vec<Mark>) {
        let marks = row(self);
        if !first {
            self.text.push_str(", ");
        }
        push_list(&mut self.text, marks);
    }

    /// The statement's text as `conn`'s database runs it fastest. SQLite looks each `$N` up
    /// by name in a list, which makes binding quadratic in the number of parameters; plain
    /// `?` placeholders bind by position. They are used when every parameter appears once and
    /// in order, which is how the builder numbers them unless a caller repeats one.
    pub fn into_parts(self, conn: &AnyConnection) -> (String, AnyArguments<'static>) {
        let text = match Backend::of(conn) {
            Backend::Sqlite => positional(&self.text, self.n).unwrap_or(self.text),
            Backend::Postgres => self.text,
        };
        (text, self.args)
    }

    pub async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        let (text, args) = self.into_parts(conn);
        Ok(sqlx::query_with(&text, args)
            .execute(conn)
            .await?
            .rows_affected())
    }

    /// [`Sql::execute`] for a statement whose unique-constraint violation is expected: it is
    /// reported as [`StorageError::Conflict`] about `what`.
    pub async fn execute_refusing(self, conn: &mut AnyConnection, what: &str) -> Result<u64> {
        let (text, args) = self.into_parts(conn);
        sqlx::query_with(&text, args)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| StorageError::conflict_on_unique(e, what))
    }

    pub async fn fetch_all(self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>> {
        let (text, args) = self.into_parts(conn);
        Ok(sqlx::query_with(&text, args).fetch_all(conn).await?)
    }

    /// [`Sql::fetch_all`] planned for these values every time rather than prepared once:
    /// for a statement whose best plan depends on them (PostgreSQL keeps a prepared
    /// statement's generic plan after a few runs, blind to how common a searched word is).
    pub async fn fetch_all_planned_each_time(
        self,
        conn: &mut AnyConnection,
    ) -> Result<Vec<AnyRow>> {
        let (text, args) = self.into_parts(conn);
        Ok(sqlx::query_with(&text, args)
            .persistent(false)
            .fetch_all(conn)
            .await?)
    }
}

/// `text` with `$1`…`$n` replaced by `?`, if they appear exactly in that order, once each.
fn positional(text: &str, n: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut expected, mut copied, mut i) = (1usize, 0usize, 0usize);
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                let number: usize = text[i + 1..i + 1 + digits].parse().ok()?;
                if number != expected {
                    return None;
                }
                expected += 1;
                out.push_str(&text[copied..i]);
                out.push('?');
                i += 1 + digits;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    if expected != n + 1 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// `(p1, p2, …)` placeholders for an `IN` list of texts.
pub(crate) fn in_list<'v>(sql: &mut Sql, values: impl IntoIterator<Item = &'v str>) -> String {
    let mut list = String::new();
    push_list(
        &mut list,
        values.into_iter().map(|v| sql.text_arg(v.to_owned())),
    );
    list
}

/// Appends `(m1, m2, …)`.
fn push_list(text: &mut String, marks: impl IntoIterator<Item = Mark>) {
    text.push('(');
    for (i, mark) in marks.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        mark.write_to(text);
    }
    text.push(')');
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn placeholders_become_positional_only_when_in_order() {
        assert_eq!(
            positional("SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)", 3).as_deref(),
            Some("SELECT a FROM t WHERE b = ? AND c IN (?, ?)")
        );
        assert_eq!(positional("VALUES ($1, $1)", 1), None);
        assert_eq!(positional("VALUES ($2, $1)", 2), None);
        assert_eq!(positional("VALUES ($1)", 2), None);
        assert_eq!(positional("SELECT 1", 0).as_deref(), Some("SELECT 1"));
        assert_eq!(
            positional("VALUES ($9, $10, $11)", 11),
            None,
            "numbering must start at 1"
        );
    }
}
