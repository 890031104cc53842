//! [`Sql`]: SQL over an actor's own database, where the provider has one.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{ActorError, MaybeSendSync, Result};

/// A value in an SQL statement or result: SQLite's storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Bytes),
}

impl SqlValue {
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(value) => Some(*value),
            _ => None,
        }
    }

    /// The number, if this is an integer or a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Integer(value) => Some(*value as f64),
            SqlValue::Real(value) => Some(*value),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(value) => Some(value),
            _ => None,
        }
    }

    /// The bytes, if this is a blob.
    pub fn as_blob(&self) -> Option<&Bytes> {
        match self {
            SqlValue::Blob(value) => Some(value),
            _ => None,
        }
    }

    /// Whether this is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }

    fn to_json(&self) -> Value {
        match self {
            SqlValue::Null => Value::Null,
            SqlValue::Integer(value) => Value::from(*value),
            SqlValue::Real(value) => Value::from(*value),
            SqlValue::Text(value) => Value::from(value.as_str()),
            SqlValue::Blob(value) => Value::from(value.to_vec()),
        }
    }
}

macro_rules! sql_value_from {
    ($($t:ty => $variant:ident via $conv:expr),* $(,)?) => {
        $(impl From<$t> for SqlValue {
            fn from(value: $t) -> Self {
                SqlValue::$variant($conv(value))
            }
        })*
    };
}

sql_value_from! {
    i64 => Integer via std::convert::identity,
    i32 => Integer via i64::from,
    u32 => Integer via i64::from,
    bool => Integer via i64::from,
    f64 => Real via std::convert::identity,
    String => Text via std::convert::identity,
    &str => Text via str::to_string,
    Bytes => Blob via std::convert::identity,
    Vec<u8> => Blob via Bytes::from,
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(SqlValue::Null, Into::into)
    }
}

/// What a statement returned: its columns, its rows, and how many rows it wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<SqlValue>>,
    rows_written: u64,
}

impl Rows {
    /// Rows as a provider read them; every row has one value per column.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<SqlValue>>, rows_written: u64) -> Self {
        Rows {
            columns,
            rows,
            rows_written,
        }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, each with one value per column.
    pub fn rows(&self) -> &[Vec<SqlValue>] {
        &self.rows
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many rows the statement inserted, updated or deleted.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// The value in `column` of row `row`, if both exist.
    pub fn get(&self, row: usize, column: &str) -> Option<&SqlValue> {
        let index = self.columns.iter().position(|name| name == column)?;
        self.rows.get(row)?.get(index)
    }

    /// Every row as a `T`, read from an object of column names to values (blobs become arrays
    /// of bytes).
    ///
    /// ```
    /// use alchemy::actor::{Rows, SqlValue};
    ///
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Message { id: i64, text: String }
    ///
    /// let rows = Rows::new(
    ///     vec!["id".into(), "text".into()],
    ///     vec![vec![SqlValue::Integer(1), SqlValue::from("hi")]],
    ///     0,
    /// );
    /// let messages: Vec<Message> = rows.deserialize()?;
    /// assert_eq!(messages, [Message { id: 1, text: "hi".into() }]);
    /// # Ok::<(), alchemy::actor::ActorError>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.rows
            .iter()
            .map(|row| {
                let object: Map<String, Value> = self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().map(SqlValue::to_json))
                    .collect();
                serde_json::from_value(Value::Object(object)).map_err(|error| ActorError::Sql {
                    message: format!(
                        "a row does not deserialize as the requested type: {error}. Select columns named like its fields"
                    ),
                })
            })
            .collect()
    }
}

/// The SQL database of one actor instance, as a provider implements it.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait SqlBackend: MaybeSendSync + 'static {
    /// Runs one statement with positional parameters (`?` or `?1`), returning its rows.
    ///
    /// Without parameters, several statements separated by `;` may be given; the rows are
    /// those of the last.
    async fn exec(&self, query: &str, params: Vec<SqlValue>) -> Result<Rows>;
}

/// SQL over the actor's own database, which its key-value [`Storage`](super::Storage) shares
/// on providers that have one (SQLite on this machine and in Durable Objects).
///
/// Statements run at once and are not part of a storage [`Transaction`](super::Transaction).
/// Table names starting with `_alchemy_` (and `_cf_`) are reserved for the provider.
///
/// ```
/// # async fn example(ctx: alchemy::actor::ActorContext) -> alchemy::actor::Result<()> {
/// let sql = ctx.sql()?;
/// sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, text TEXT)", [])
///     .await?;
/// sql.exec("INSERT INTO messages (text) VALUES (?)", ["hello".into()]).await?;
/// let rows = sql.exec("SELECT count(*) AS n FROM messages", []).await?;
/// assert_eq!(rows.get(0, "n").and_then(|n| n.as_i64()), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sql {
    backend: Arc<dyn SqlBackend>,
}

impl fmt::Debug for Sql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sql").finish_non_exhaustive()
    }
}

impl Sql {
    /// SQL over `backend`.
    pub fn new(backend: Arc<dyn SqlBackend>) -> Self {
        Sql { backend }
    }

    /// Runs `query` with positional `params`, returning its rows.
    pub async fn exec(
        &self,
        query: &str,
        params: impl IntoIterator<Item = SqlValue>,
    ) -> Result<Rows> {
        self.backend.exec(query, params.into_iter().collect()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_from_rust_types() {
        assert_eq!(SqlValue::from(3i32), SqlValue::Integer(3));
        assert_eq!(SqlValue::from(true), SqlValue::Integer(1));
        assert_eq!(SqlValue::from("a"), SqlValue::Text("a".into()));
        assert_eq!(SqlValue::from(None::<i64>), SqlValue::Null);
        assert_eq!(
            SqlValue::from(vec![1u8]).as_blob().map(|b| b.len()),
            Some(1)
        );
        assert_eq!(SqlValue::Integer(2).as_f64(), Some(2.0));
    }

    #[test]
    fn rows_that_do_not_fit_the_type_say_so() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wanted {
            missing: String,
        }
        let rows = Rows::new(vec!["x".into()], vec![vec![SqlValue::Null]], 0);
        let error = rows.deserialize::<Wanted>().unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
        assert_eq!(rows.get(0, "x"), Some(&SqlValue::Null));
        assert_eq!(rows.get(1, "x"), None);
    }
}
