//! Reading portable columns back into domain types.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use arrayvec::ArrayString;
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::StorageError;

/// Instants are stored as microseconds since the Unix epoch on both databases.
pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_micros(m: i64) -> Timestamp {
    // Stored values come from `micros`, so they are always in range; clamp rather than fail
    // on a hand-edited row.
    Timestamp::from_microsecond(m).unwrap_or(if m < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A fresh id: a UUIDv7, time-ordered so that new rows land at the end of b-tree indexes.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A fresh id minted at `at`, which sorts among the others as `at` does: a ticket's id is
/// minted at its creation (an imported one's at its original creation), so the newest
/// tickets are a range of ids (`storage::search`). Ids minted at the same millisecond sort
/// in the order they were minted by this process.
pub fn new_id_at(at: Timestamp) -> String {
    // Written by hand, with the crate's layout: its monotonic context would move an earlier
    // `at` (an imported ticket's, or another test clock's) up to the latest it has seen. A
    // UUIDv7 is 48 bits of milliseconds since 1970 (earlier instants share the first), the
    // version, 12 bits, the variant and 62 bits; the 74 bits hold a process-wide sequence
    // starting at a random point (two servers minting in the same millisecond do not
    // meet), then 10 random bits.
    static SEQUENCE: LazyLock<AtomicU64> =
        LazyLock::new(|| AtomicU64::new(uuid::Uuid::new_v4().as_u64_pair().0 >> 1));
    let ms = u64::try_from(at.as_millisecond()).unwrap_or(0) & ((1 << 48) - 1);
    let seq = u128::from(SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let random = u128::from(uuid::Uuid::new_v4().as_u64_pair().1 & 0x3ff);
    let bits = (u128::from(ms) << 80)
        | (0x7 << 76)
        | ((seq >> 52) << 64)
        | (0b10 << 62)
        | ((seq & ((1 << 52) - 1)) << 10)
        | random;
    uuid::Uuid::from_u128(bits).simple().to_string()
}

/// A lower bound, as text, of the ids minted at or after `at` (by [`new_id`] or
/// [`new_id_at`]): every such id sorts at or after it.
pub fn id_floor(at: Timestamp) -> String {
    format!("{:012x}", u64::try_from(at.as_millisecond()).unwrap_or(0))
}

/// Parses one row of `table` with `parse`, naming the table and the row's `id` in a
/// [`StorageError::Corrupt`] raised by the column readers below, which know neither.
pub(crate) fn in_table<R: RowExt, T>(
    table: &'static str,
    row: &R,
    parse: impl FnOnce(&R) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    parse(row).map_err(|e| {
        let id = row.opt_text("id").ok().flatten();
        name_row(table, id.as_deref().unwrap_or("without id"))(e)
    })
}

/// Names `table` and the row `id` in a [`StorageError::Corrupt`] that a column reader raised
/// (for a column read outside its table's row parser); other errors pass as they are.
pub(crate) fn name_row<'a>(
    table: &'static str,
    id: &'a str,
) -> impl FnOnce(StorageError) -> StorageError + 'a {
    move |e| match e {
        StorageError::Corrupt { table: "?", detail } => StorageError::Corrupt {
            table,
            detail: format!("row {id}: {detail}"),
        },
        other => other,
    }
}

pub(crate) trait RowExt {
    fn text(&self, col: &str) -> Result<String, StorageError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError>;
    fn int(&self, col: &str) -> Result<i64, StorageError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StorageError>;
    fn flag(&self, col: &str) -> Result<bool, StorageError>;
    fn time(&self, col: &str) -> Result<Timestamp, StorageError> {
        self.int(col).map(from_micros)
    }
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, StorageError> {
        Ok(self.opt_int(col)?.map(from_micros))
    }
    fn parse<T: FromStr>(&self, col: &str) -> Result<T, StorageError> {
        let s = self.text(col)?;
        s.parse().map_err(|_| StorageError::Corrupt {
            table: "?",
            detail: format!("column {col} holds unknown value {s:?}"),
        })
    }
    fn opt_parse<T: FromStr>(&self, col: &str) -> Result<Option<T>, StorageError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| StorageError::Corrupt {
                table: "?",
                detail: format!("column {col} holds unknown value {s:?}"),
            }),
        }
    }
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T, StorageError> {
        let s = self.text(col)?;
        serde_json::from_str(&s).map_err(|e| StorageError::Corrupt {
            table: "?",
            detail: format!("column {col} holds invalid JSON: {e}"),
        })
    }
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> Result<String, StorageError> {
        Ok(self.try_get::<String, _>(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }
    fn int(&self, col: &str) -> Result<i64, StorageError> {
        Ok(self.try_get::<i64, _>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }
    /// A BOOLEAN column must be selected as `CAST(col AS INTEGER) AS col`: SQLite reports
    /// the declared type BOOLEAN, which sqlx's Any driver cannot describe, and then refuses
    /// the whole row. Cast, it is an integer on both databases: 1 or 0, anything else corrupt.
    fn flag(&self, col: &str) -> Result<bool, StorageError> {
        match self.try_get::<i64, _>(col)? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(StorageError::Corrupt {
                table: "?",
                detail: format!("flag column {col} holds {n}"),
            }),
        }
    }
}

/// The columns of one table in a joined row, selected as `{prefix}{column}` (`e_id` for an
/// escalation's `id`), so that a table's row parser reads them under their own names.
pub(crate) struct Prefixed<'r> {
    row: &'r AnyRow,
    prefix: &'static str,
}

impl<'r> Prefixed<'r> {
    /// The table's part of a LEFT JOINed row, parsed by `parse`, or `None` when the join
    /// matched nothing (its `id` is NULL).
    pub fn joined<T>(
        row: &'r AnyRow,
        prefix: &'static str,
        parse: impl FnOnce(&Prefixed<'r>) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        let part = Prefixed { row, prefix };
        match part.opt_text("id")? {
            Some(_) => parse(&part).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the column `{prefix}{col}` with `read`. The name is put together on the stack:
    /// a batch of timers reads tens of thousands of joined columns, and a `String` for each
    /// name was one allocation in every eight the engine made.
    fn read<T>(
        &self,
        col: &str,
        read: impl FnOnce(&AnyRow, &str) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut name = ArrayString::<64>::new();
        match name
            .try_push_str(self.prefix)
            .and_then(|()| name.try_push_str(col))
        {
            Ok(()) => read(self.row, &name),
            Err(_) => read(self.row, &format!("{}{col}", self.prefix)),
        }
    }
}

impl RowExt for Prefixed<'_> {
    fn text(&self, col: &str) -> Result<String, StorageError> {
        self.read(col, |row, name| row.text(name))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError> {
        self.read(col, |row, name| row.opt_text(name))
    }
    fn int(&self, col: &str) -> Result<i64, StorageError> {
        self.read(col, |row, name| row.int(name))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StorageError> {
        self.read(col, |row, name| row.opt_int(name))
    }
    fn flag(&self, col: &str) -> Result<bool, StorageError> {
        self.read(col, |row, name| row.flag(name))
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// Ids follow the instant they are minted at, then the order of minting; the floor of an
    /// instant is at or below its ids and above the ids of the millisecond before; each is
    /// a well-formed UUIDv7 carrying its instant.
    #[test]
    fn ids_minted_at_an_instant_sort_by_it() {
        let at = Timestamp::from_millisecond(1_748_858_400_123).expect("an instant");
        let before = at - jiff::SignedDuration::from_millis(1);
        let same: Vec<String> = (0..2_000).map(|_| new_id_at(at)).collect();
        assert!(
            same.windows(2).all(|w| w[0] < w[1]),
            "minting order within an instant"
        );
        let earlier = new_id_at(before);
        assert!(
            earlier < same[0],
            "an earlier instant sorts first, minted later or not"
        );
        let floor = id_floor(at);
        assert!(floor.as_str() <= same[0].as_str() && floor > earlier);
        let parsed = uuid::Uuid::parse_str(&same[0]).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = parsed.get_timestamp().expect("a time").to_unix();
        assert_eq!((secs, nanos), (1_748_858_400, 123_000_000));
        // Before 1970: the first millisecond.
        assert!(new_id_at(Timestamp::MIN).starts_with("000000000000"));
    }

    /// Joined columns are read under `{prefix}{column}`, whether the name fits the stack
    /// buffer or, longer than any column today, is put together on the heap.
    #[tokio::test]
    async fn prefixed_columns_are_read_under_short_and_long_names() {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .expect("connect");
        let long = "a_column_name_long_enough_that_with_its_prefix_it_passes_64_bytes";
        let row = sqlx::query(&format!(
            "SELECT 'e1' AS e_id, 7 AS e_rung, 'yes' AS e_{long}, NULL AS c_id"
        ))
        .fetch_one(&mut conn)
        .await
        .expect("select");
        let read = Prefixed::joined(&row, "e_", |e| {
            Ok((e.text("id")?, e.int("rung")?, e.text(long)?))
        })
        .expect("read");
        assert!(long.len() + 2 > 64);
        assert_eq!(read, Some(("e1".to_owned(), 7, "yes".to_owned())));
        let missing = Prefixed::joined(&row, "c_", |c| c.text("id")).expect("read");
        assert_eq!(missing, None, "a join that matched nothing");
        assert!(Prefixed::joined(&row, "e_", |e| e.text("nope")).is_err());
    }

    /// A column reader's error, which knows neither, comes out naming the table and the row.
    #[tokio::test]
    async fn a_corrupt_column_names_its_table_and_row() {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .expect("connect");
        let row = sqlx::query("SELECT 't1' AS id, 'limbo' AS status, '[' AS tags")
            .fetch_one(&mut conn)
            .await
            .expect("select");
        for read in [
            in_table("tickets", &row, |r| {
                r.parse::<ladder_core::TicketStatus>("status").map(drop)
            }),
            in_table("tickets", &row, |r| r.json::<Vec<String>>("tags").map(drop)),
        ] {
            match read {
                Err(StorageError::Corrupt { table, detail }) => {
                    assert_eq!(table, "tickets");
                    assert!(detail.starts_with("row t1: column "), "{detail}");
                }
                other => panic!("expected a corrupt row, got {other:?}"),
            }
        }
    }
}
