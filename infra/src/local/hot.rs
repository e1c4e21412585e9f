//! The group commit's multi-row INSERTs (its held-back `messages`, `activity` and
//! `bus_events` rows, three statements per group call), kept prepared for the connection's
//! lifetime and bound without copies.
//!
//! Through rusqlite, each of those statements cost a lookup in its statement cache (the SQL
//! text hashed and compared, the entry moved to the back of its LRU list, then put back) and
//! every text value was copied by SQLite (`SQLITE_TRANSIENT`: a `malloc` and a copy per
//! value, bodies and envelopes included), then freed when the bindings were cleared. Here
//! a statement is found by the address of its `'static` text, and text is bound
//! `SQLITE_STATIC`: SQLite reads the caller's bytes only while the statement steps, within
//! the call. The bindings are not cleared afterwards (`sqlite3_clear_bindings` cost ~0.5 K
//! instructions per event, one NULL per place, ~200 places per PutEvents call): a run binds
//! every place of its statement before it steps (checked), so a binding left from a run
//! before, whose text may be gone, is never read, only replaced (which does not touch a
//! static text).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, CStr};
use std::ptr::{self, NonNull};

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{ffi, Connection};

/// One value of a row, as [`Row::bind`] gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

impl<'a> Val<'a> {
    /// `Text`, or `Null` for `None`.
    pub fn opt(text: Option<&'a String>) -> Val<'a> {
        text.map_or(Val::Null, |t| Val::Text(t))
    }
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Val::Int(i) => ToSqlOutput::Owned(Value::Integer(i)),
            Val::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Val::Null => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// A [`Row`] type's `INSERT` texts for 1 to `store::ROWS_PER_INSERT` rows, made once per
/// process.
pub(crate) type InsertTexts = std::sync::OnceLock<Vec<String>>;

/// Binds the next value of a [`Row`] (borrowed from the row, for `'r`) to its place in the
/// statement.
pub(crate) type BindValue<'r, 'b> = dyn FnMut(Val<'r>) -> rusqlite::Result<()> + 'b;

/// A row of one table, written by `store::insert_rows`: one place where each table's columns
/// are named and bound, whether the row was held back or is written at once.
pub(crate) trait Row {
    /// `INSERT INTO table (columns)`, without `VALUES`.
    const INSERT: &'static str;
    /// How many columns: the values [`Row::bind`] gives.
    const WIDTH: usize;
    /// The values, in the order of the columns.
    fn bind<'r>(&'r self, bind: &mut BindValue<'r, '_>) -> rusqlite::Result<()>;
    /// Where its `INSERT` texts are kept (`store::insert_sql`): a `static` of its own.
    fn texts() -> &'static InsertTexts;
}

/// Statements prepared on one connection, by the address of their text.
pub(crate) struct HotStatements {
    /// The connection they were prepared on (set by the first one).
    db: std::cell::Cell<*mut ffi::sqlite3>,
    /// Keyed by the text's address and length (a shorter text could start where a longer
    /// one does).
    stmts: RefCell<Vec<(*const str, NonNull<ffi::sqlite3_stmt>)>>,
}

// SAFETY: the statements belong to the connection of the `Store` that owns this value, and
// are used only through it (`&mut Store`, or a transaction borrowed from it): they move between
// threads with that connection (which is `Send`) and are never used by two threads at once
// (the value is not `Sync`).
unsafe impl Send for HotStatements {}

impl Default for HotStatements {
    fn default() -> Self {
        HotStatements {
            db: std::cell::Cell::new(ptr::null_mut()),
            stmts: RefCell::new(Vec::new()),
        }
    }
}

impl Drop for HotStatements {
    fn drop(&mut self) {
        for (_, stmt) in self.stmts.get_mut().drain(..) {
            // SAFETY: prepared by `prepare`, finalized once, here (before the connection
            // closes: `Store` declares this field before its connection).
            unsafe {
                ffi::sqlite3_finalize(stmt.as_ptr());
            }
        }
    }
}

/// The connection's last error as rusqlite's, with `code`.
fn error(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is an open connection; the message is copied at once.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(db);
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

impl HotStatements {
    /// The statement of `sql` on `conn`, prepared at its first use.
    fn statement(
        &self,
        conn: &Connection,
        sql: &'static str,
    ) -> rusqlite::Result<*mut ffi::sqlite3_stmt> {
        // SAFETY: the handle is only compared and passed to SQLite, never closed here.
        let db = unsafe { conn.handle() };
        if self.db.get().is_null() {
            self.db.set(db);
        }
        if self.db.get() != db {
            return Err(rusqlite::Error::InvalidParameterName(
                "statements kept prepared for another connection".into(),
            ));
        }
        if let Some((_, stmt)) = self
            .stmts
            .borrow()
            .iter()
            .find(|(text, _)| ptr::eq(*text, sql))
        {
            return Ok(stmt.as_ptr());
        }
        let mut stmt = ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; `stmt` receives the new statement.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast::<c_char>(),
                sql.len() as c_int,
                ffi::SQLITE_PREPARE_PERSISTENT as c_uint,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        self.stmts.borrow_mut().push((sql, stmt));
        Ok(stmt.as_ptr())
    }

    /// Runs `sql` (an INSERT of as many rows as `rows` has) with the values of `rows`, in
    /// order.
    pub fn insert<R: Row>(
        &self,
        conn: &Connection,
        sql: &'static str,
        rows: &[R],
    ) -> rusqlite::Result<()> {
        self.run(conn, sql, |bind| {
            for row in rows {
                row.bind(bind)?;
            }
            Ok(())
        })
        .map(|_| ())
    }

    /// Runs `sql` (a statement that returns no rows) with `values`; returns how many rows it
    /// changed.
    pub fn execute(
        &self,
        conn: &Connection,
        sql: &'static str,
        values: &[Val<'_>],
    ) -> rusqlite::Result<usize> {
        self.run(conn, sql, |bind| {
            for v in values {
                bind(*v)?;
            }
            Ok(())
        })
    }

    /// Runs `sql` (a query) with `values`; returns `f` of each row, in order.
    pub fn query<T>(
        &self,
        conn: &Connection,
        sql: &'static str,
        values: &[Val<'_>],
        mut f: impl FnMut(&dyn Columns) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut out = Vec::new();
        self.run_with(
            conn,
            sql,
            |bind| {
                for v in values {
                    bind(*v)?;
                }
                Ok(())
            },
            |stmt| {
                let db = self.db.get();
                loop {
                    // SAFETY: a live statement of this connection, bound by `run_with`.
                    match unsafe { ffi::sqlite3_step(stmt) } {
                        ffi::SQLITE_ROW => out.push(f(&RawRow { stmt })?),
                        ffi::SQLITE_DONE => return Ok(0),
                        rc => return Err(error(db, rc)),
                    }
                }
            },
        )?;
        Ok(out)
    }

    /// Binds the values `bind_all` gives (borrowed for `'v`, which outlasts this call) to
    /// `sql`'s places in order, steps it once, and resets it.
    fn run<'v>(
        &self,
        conn: &Connection,
        sql: &'static str,
        bind_all: impl FnOnce(&mut BindValue<'v, '_>) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<usize> {
        self.run_with(conn, sql, bind_all, |stmt| {
            // SAFETY: a live statement of this connection, bound by `run_with`.
            unsafe {
                let db = ffi::sqlite3_db_handle(stmt);
                match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_DONE => Ok(ffi::sqlite3_changes64(db) as usize),
                    rc => Err(error(db, rc)),
                }
            }
        })
    }

    /// [`Self::run`] with the stepping done by `step`, between the binding and the reset.
    fn run_with<'v>(
        &self,
        conn: &Connection,
        sql: &'static str,
        bind_all: impl FnOnce(&mut BindValue<'v, '_>) -> rusqlite::Result<()>,
        step: impl FnOnce(*mut ffi::sqlite3_stmt) -> rusqlite::Result<usize>,
    ) -> rusqlite::Result<usize> {
        let stmt = self.statement(conn, sql)?;
        let db = self.db.get();
        let mut place: c_int = 0;
        let bound = bind_all(&mut |value| {
            place += 1;
            // SAFETY: `stmt` is a live statement of this connection; text is bound
            // `SQLITE_STATIC`: SQLite reads it during the step below, while `'v` lasts.
            // Afterwards the binding is left, unread, until the next run binds this place
            // again before it steps (see the check below).
            let rc = unsafe {
                match value {
                    Val::Int(i) => ffi::sqlite3_bind_int64(stmt, place, i),
                    Val::Null => ffi::sqlite3_bind_null(stmt, place),
                    Val::Text(t) => ffi::sqlite3_bind_text64(
                        stmt,
                        place,
                        if t.is_empty() {
                            c"".as_ptr()
                        } else {
                            t.as_ptr().cast()
                        },
                        t.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                }
            };
            match rc {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(error(db, rc)),
            }
        });
        // Every place bound, so that no step reads a binding left from a run before.
        let bound = bound.and_then(|()| {
            // SAFETY: a live statement of this connection.
            let places = unsafe { ffi::sqlite3_bind_parameter_count(stmt) };
            match place == places {
                true => Ok(()),
                false => Err(rusqlite::Error::InvalidParameterCount(
                    place as usize,
                    places as usize,
                )),
            }
        });
        // SAFETY: as above. Reset whatever happened; the bindings are cleared only when the
        // run failed (cheap then, and it leaves nothing half-bound).
        unsafe {
            let stepped = bound.and_then(|()| step(stmt));
            ffi::sqlite3_reset(stmt);
            if stepped.is_err() {
                ffi::sqlite3_clear_bindings(stmt);
            }
            stepped
        }
    }
}

/// A result row's columns by index, read the same way from rusqlite's rows and from
/// [`HotStatements::query`]'s.
pub(crate) trait Columns {
    fn int(&self, col: usize) -> rusqlite::Result<i64>;
    fn opt_int(&self, col: usize) -> rusqlite::Result<Option<i64>>;
    fn text(&self, col: usize) -> rusqlite::Result<String>;
    fn opt_text(&self, col: usize) -> rusqlite::Result<Option<String>>;
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, col: usize) -> rusqlite::Result<i64> {
        self.get(col)
    }
    fn opt_int(&self, col: usize) -> rusqlite::Result<Option<i64>> {
        self.get(col)
    }
    fn text(&self, col: usize) -> rusqlite::Result<String> {
        self.get(col)
    }
    fn opt_text(&self, col: usize) -> rusqlite::Result<Option<String>> {
        self.get(col)
    }
}

/// The current row of a statement stepped by [`HotStatements::query`].
struct RawRow {
    stmt: *mut ffi::sqlite3_stmt,
}

impl RawRow {
    fn is_null(&self, col: usize) -> bool {
        // SAFETY: the statement is on a row (`SQLITE_ROW`) while `self` is lent out.
        unsafe { ffi::sqlite3_column_type(self.stmt, col as c_int) == ffi::SQLITE_NULL }
    }
}

impl Columns for RawRow {
    fn int(&self, col: usize) -> rusqlite::Result<i64> {
        match self.opt_int(col)? {
            Some(i) => Ok(i),
            None => Err(rusqlite::Error::InvalidColumnType(
                col,
                String::new(),
                rusqlite::types::Type::Null,
            )),
        }
    }
    fn opt_int(&self, col: usize) -> rusqlite::Result<Option<i64>> {
        if self.is_null(col) {
            return Ok(None);
        }
        // SAFETY: as in `is_null`.
        Ok(Some(unsafe {
            ffi::sqlite3_column_int64(self.stmt, col as c_int)
        }))
    }
    fn text(&self, col: usize) -> rusqlite::Result<String> {
        // SAFETY: as in `is_null`; the text (`len` bytes) stays valid until the next call
        // on this column or statement, and is copied before.
        let bytes = unsafe {
            let text = ffi::sqlite3_column_text(self.stmt, col as c_int);
            let len = ffi::sqlite3_column_bytes(self.stmt, col as c_int);
            if text.is_null() || len <= 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(text, len as usize)
            }
        };
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| rusqlite::Error::Utf8Error(col, e))
    }
    fn opt_text(&self, col: usize) -> rusqlite::Result<Option<String>> {
        if self.is_null(col) {
            return Ok(None);
        }
        self.text(col).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(i64, Option<String>, String);

    impl Row for Pair {
        const INSERT: &'static str = "INSERT INTO t (n, maybe, text)";
        const WIDTH: usize = 3;
        fn bind<'r>(&'r self, bind: &mut BindValue<'r, '_>) -> rusqlite::Result<()> {
            bind(Val::Int(self.0))?;
            bind(Val::opt(self.1.as_ref()))?;
            bind(Val::Text(&self.2))
        }
        fn texts() -> &'static InsertTexts {
            static TEXTS: InsertTexts = InsertTexts::new();
            &TEXTS
        }
    }

    /// Rows bound without copies read back as written (empty and non-ASCII text, NULL),
    /// the statement is reused, and a failing insert is an error that leaves the
    /// statement usable.
    #[test]
    fn rows_inserted_through_kept_statements_read_back_as_written() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (n INTEGER UNIQUE, maybe TEXT, text TEXT NOT NULL)")
            .expect("table");
        let hot = HotStatements::default();
        let sql: &'static str = "INSERT INTO t (n, maybe, text) VALUES (?, ?, ?), (?, ?, ?)";
        let rows = [
            Pair(1, None, String::new()),
            Pair(2, Some("é ✓ 🚀".into()), "x".repeat(5000)),
        ];
        hot.insert(&conn, sql, &rows).expect("insert");
        let again = [
            Pair(3, Some(String::new()), "a".into()),
            Pair(4, None, "b".into()),
        ];
        hot.insert(&conn, sql, &again).expect("insert again");
        assert_eq!(hot.stmts.borrow().len(), 1, "one statement, kept");
        let dup = [Pair(5, None, "c".into()), Pair(1, None, "dup".into())];
        assert!(
            hot.insert(&conn, sql, &dup).is_err(),
            "a UNIQUE violation fails"
        );
        // Too few values for the places: refused before stepping (no binding of the run
        // before is read), and the statement is still usable.
        let short: &'static str = "INSERT INTO t (n, maybe, text) VALUES (?, ?, ?)";
        hot.execute(&conn, short, &[Val::Int(6), Val::Null, Val::Text("f")])
            .expect("insert one");
        assert!(matches!(
            hot.execute(&conn, short, &[Val::Int(7)]),
            Err(rusqlite::Error::InvalidParameterCount(1, 3))
        ));
        hot.execute(&conn, short, &[Val::Int(8), Val::Null, Val::Text("h")])
            .expect("insert after");
        let got: Vec<(i64, Option<String>, String)> = conn
            .prepare("SELECT n, maybe, text FROM t ORDER BY n")
            .expect("select")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("read");
        let want = vec![
            (1, None, String::new()),
            (2, Some("é ✓ 🚀".to_string()), "x".repeat(5000)),
            (3, Some(String::new()), "a".to_string()),
            (4, None, "b".to_string()),
            (6, None, "f".to_string()),
            (8, None, "h".to_string()),
        ];
        assert_eq!(got, want);
    }
}
