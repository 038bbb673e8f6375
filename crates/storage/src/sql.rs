//! SQL text with numbered placeholders and its arguments, built together so that the numbers
//! always match (sqlx's query builder writes `?` for `Any`, which PostgreSQL rejects). Used
//! for dynamic filters and for multi-row statements that write a whole batch at once.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Arguments, Encode, Type};

use crate::Result;

pub(crate) struct Sql {
    pub text: String,
    pub args: AnyArguments<'static>,
    n: usize,
}

/// Values per `IN` list.
pub(crate) const CHUNK: usize = 200;

/// Rows per multi-row statement of `cols` values each. SQLite looks parameters up by name
/// in a list, so binding costs grow with the square of a statement's parameters: a few
/// hundred per statement is the sweet spot.
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (400 / cols.max(1)).max(1)
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

    /// Binds a value and returns its placeholder.
    pub fn arg<T>(&mut self, v: T) -> String
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
    {
        self.n += 1;
        // Adding a value to AnyArguments only fails for types the Any driver does not know,
        // and every type bound here is one it knows.
        let _ = self.args.add(v);
        format!("${}", self.n)
    }

    pub fn text_arg(&mut self, v: String) -> String {
        self.arg(v)
    }

    pub fn int_arg(&mut self, v: i64) -> String {
        self.arg(v)
    }

    /// Appends `(p1, p2, …)` for one row whose values `row` binds.
    pub fn row(&mut self, first: bool, row: impl FnOnce(&mut Sql) -> Vec<String>) {
        let marks = row(self);
        if !first {
            self.text.push_str(", ");
        }
        self.text.push('(');
        self.text.push_str(&marks.join(", "));
        self.text.push(')');
    }

    pub async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        Ok(sqlx::query_with(&self.text, self.args)
            .execute(conn)
            .await?
            .rows_affected())
    }

    pub async fn fetch_all(self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>> {
        Ok(sqlx::query_with(&self.text, self.args)
            .fetch_all(conn)
            .await?)
    }
}

/// `(p1, p2, …)` placeholders for an `IN` list of texts.
pub(crate) fn in_list(sql: &mut Sql, values: &[String]) -> String {
    let marks: Vec<String> = values.iter().map(|v| sql.text_arg(v.clone())).collect();
    format!("({})", marks.join(", "))
}
