//! The SQLite database of one local actor: its key-value storage and its SQL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql};
use tokio::runtime::Handle;

use crate::actor::{
    ActorError, ListOptions, Result, Rows, SqlBackend, SqlValue, StorageBackend, WriteOp,
};

/// Tables the provider keeps for itself; user SQL may not name them.
const RESERVED_PREFIXES: [&str; 2] = ["_alchemy_", "_cf_"];

/// Opens (creating it if needed) a database in WAL mode, ready for concurrent readers.
pub(crate) fn open_connection(path: &Path) -> Result<Connection> {
    let fail = |error: &dyn std::fmt::Display| {
        let text = error.to_string();
        // SQLite says "unable to open database file" when the process is out of file handles.
        let hint = if text.contains("unable to open") {
            " (if many actors are loaded at once, the process may be out of file handles: each \
             loaded actor holds three; evict idle actors sooner with \
             `LocalActorsOptions::idle_timeout` (`dev --actor-idle-ms`) or raise `ulimit -n`)"
        } else {
            ""
        };
        ActorError::backend(
            "local",
            format!("cannot open the database {}: {text}{hint}", path.display()),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let conn = Connection::open(path).map_err(|e| fail(&e))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| fail(&e))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(&e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| fail(&e))?;
    Ok(conn)
}

/// A database shared by an instance's storage and SQL; calls run on the blocking pool.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    handle: Handle,
}

impl Db {
    /// Opens the database of one actor at `path`.
    pub(crate) async fn open(path: PathBuf, handle: Handle) -> Result<Db> {
        let opened = path.clone();
        let conn = handle
            .spawn_blocking(move || {
                let conn = open_connection(&opened)?;
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS _alchemy_kv (
                        key BLOB PRIMARY KEY,
                        value BLOB NOT NULL
                    ) WITHOUT ROWID;",
                )
                .map_err(|e| sql_error("creating the key-value table", &e))?;
                Ok::<_, ActorError>(conn)
            })
            .await
            .map_err(|e| {
                ActorError::backend("local", format!("opening a database failed: {e}"))
            })??;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path),
            handle,
        })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        self.handle
            .spawn_blocking(move || {
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                work(&mut conn)
            })
            .await
            .map_err(|e| {
                ActorError::backend(
                    "local",
                    format!("a call on the database {} failed: {e}", path.display()),
                )
            })?
    }
}

fn sql_error(what: &str, error: &rusqlite::Error) -> ActorError {
    ActorError::backend("local", format!("{what}: {error}"))
}

/// The key-value storage of a local actor.
pub(crate) struct LocalStorage {
    pub(crate) db: Db,
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bound = prefix.to_vec();
    while let Some(last) = bound.pop() {
        if last < u8::MAX {
            bound.push(last + 1);
            return Some(bound);
        }
    }
    None
}

fn key_of(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|e| ActorError::backend("local", format!("a stored key is not UTF-8: {e}")))
}

#[async_trait::async_trait]
impl StorageBackend for LocalStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let key = key.as_bytes().to_vec();
        self.db
            .call(move |conn| {
                conn.query_row(
                    "SELECT value FROM _alchemy_kv WHERE key = ?1",
                    [&key],
                    |row| row.get::<_, Vec<u8>>(0),
                )
                .optional()
                .map(|value| value.map(Bytes::from))
                .map_err(|e| sql_error("reading a key", &e))
            })
            .await
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>> {
        let options = options.clone();
        self.db
            .call(move |conn| {
                let mut sql = String::from("SELECT key, value FROM _alchemy_kv WHERE key >= ?");
                let mut params: Vec<Value> = vec![Value::Blob(options.prefix.as_bytes().to_vec())];
                if let Some(upper) = successor(options.prefix.as_bytes()) {
                    sql.push_str(" AND key < ?");
                    params.push(Value::Blob(upper));
                }
                if let Some(after) = &options.start_after {
                    sql.push_str(if options.reverse {
                        " AND key < ?"
                    } else {
                        " AND key > ?"
                    });
                    params.push(Value::Blob(after.as_bytes().to_vec()));
                }
                sql.push_str(if options.reverse {
                    " ORDER BY key DESC"
                } else {
                    " ORDER BY key"
                });
                if let Some(limit) = options.limit {
                    sql.push_str(" LIMIT ?");
                    params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
                }
                let mut statement = conn
                    .prepare_cached(&sql)
                    .map_err(|e| sql_error("listing keys", &e))?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params), |row| {
                        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(|e| sql_error("listing keys", &e))?;
                rows.map(|row| {
                    let (key, value) = row.map_err(|e| sql_error("listing keys", &e))?;
                    Ok((key_of(key)?, Bytes::from(value)))
                })
                .collect()
            })
            .await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        self.db
            .call(move |conn| {
                let txn = conn
                    .transaction()
                    .map_err(|e| sql_error("starting a write", &e))?;
                {
                    let mut put = txn
                        .prepare_cached(
                            "INSERT INTO _alchemy_kv (key, value) VALUES (?1, ?2)
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        )
                        .map_err(|e| sql_error("writing a key", &e))?;
                    let mut delete = txn
                        .prepare_cached("DELETE FROM _alchemy_kv WHERE key = ?1")
                        .map_err(|e| sql_error("deleting a key", &e))?;
                    for op in &ops {
                        match op {
                            WriteOp::Put { key, value } => {
                                put.execute((key.as_bytes(), value.as_ref()))
                                    .map_err(|e| sql_error("writing a key", &e))?;
                            }
                            WriteOp::Delete { key } => {
                                delete
                                    .execute([key.as_bytes()])
                                    .map_err(|e| sql_error("deleting a key", &e))?;
                            }
                        }
                    }
                }
                txn.commit()
                    .map_err(|e| sql_error("committing a write", &e))
            })
            .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let key = key.as_bytes().to_vec();
        self.db
            .call(move |conn| {
                conn.execute("DELETE FROM _alchemy_kv WHERE key = ?1", [&key])
                    .map(|deleted| deleted > 0)
                    .map_err(|e| sql_error("deleting a key", &e))
            })
            .await
    }

    async fn delete_all(&self) -> Result<()> {
        self.db
            .call(|conn| {
                conn.execute("DELETE FROM _alchemy_kv", [])
                    .map(drop)
                    .map_err(|e| sql_error("deleting every key", &e))
            })
            .await
    }
}

/// The SQL of a local actor, over the same database as its storage.
pub(crate) struct LocalSql {
    pub(crate) db: Db,
}

struct Param<'a>(&'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(value) => ValueRef::Integer(*value),
            SqlValue::Real(value) => ValueRef::Real(*value),
            SqlValue::Text(value) => ValueRef::Text(value.as_bytes()),
            SqlValue::Blob(value) => ValueRef::Blob(value),
        }))
    }
}

fn value_of(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(value) => SqlValue::Integer(value),
        ValueRef::Real(value) => SqlValue::Real(value),
        ValueRef::Text(text) => SqlValue::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(blob) => SqlValue::Blob(Bytes::copy_from_slice(blob)),
    }
}

fn statement_error(query: &str, error: &rusqlite::Error) -> ActorError {
    ActorError::Sql {
        message: format!("{error} (in `{}`)", crate::actor::shorten_text(query)),
    }
}

fn run(conn: &Connection, query: &str, params: &[SqlValue]) -> Result<Rows> {
    if params.is_empty() {
        // Without parameters, run every statement in turn; the rows are the last one's.
        let mut batch = rusqlite::Batch::new(conn, query);
        let mut rows = Rows::default();
        while let Some(mut statement) = batch.next().map_err(|e| statement_error(query, &e))? {
            rows = collect(conn, &mut statement, query, params)?;
        }
        return Ok(rows);
    }
    let mut statement = match conn.prepare(query) {
        Ok(statement) => statement,
        Err(rusqlite::Error::MultipleStatement) => {
            return Err(ActorError::Sql {
                message: format!(
                "several statements were given with parameters (in `{}`): run them one at a time",
                crate::actor::shorten_text(query)
            ),
            })
        }
        Err(error) => return Err(statement_error(query, &error)),
    };
    collect(conn, &mut statement, query, params)
}

fn collect(
    conn: &Connection,
    statement: &mut rusqlite::Statement<'_>,
    query: &str,
    params: &[SqlValue],
) -> Result<Rows> {
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(String::from)
        .collect();
    let width = columns.len();
    let readonly = statement.readonly();
    let mut rows = statement
        .query(rusqlite::params_from_iter(params.iter().map(Param)))
        .map_err(|e| statement_error(query, &e))?;
    let mut values = Vec::new();
    while let Some(row) = rows.next().map_err(|e| statement_error(query, &e))? {
        let mut record = Vec::with_capacity(width);
        for index in 0..width {
            let value = row.get_ref(index).map_err(|e| statement_error(query, &e))?;
            record.push(value_of(value));
        }
        values.push(record);
    }
    drop(rows);
    let written = if readonly { 0 } else { conn.changes() };
    Ok(Rows::new(columns, values, written))
}

#[async_trait::async_trait]
impl SqlBackend for LocalSql {
    async fn exec(&self, query: &str, params: Vec<SqlValue>) -> Result<Rows> {
        let lowered = query.to_ascii_lowercase();
        if let Some(prefix) = RESERVED_PREFIXES
            .iter()
            .find(|prefix| lowered.contains(*prefix))
        {
            return Err(ActorError::Sql {
                message: format!(
                    "names starting with `{prefix}` are reserved for the provider (in `{}`): rename the table",
                    crate::actor::shorten_text(query)
                ),
            });
        }
        let query = query.to_string();
        self.db.call(move |conn| run(conn, &query, &params)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_bound_prefixes() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
        assert_eq!(successor(b""), None);
    }
}
