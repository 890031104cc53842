//! [`DoSql`]: a Durable Object's SQLite database as the neutral [`SqlBackend`].

use alchemy::actor::{ActorError, Result, Rows, SqlBackend, SqlValue};
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use worker::{SqlStorage, SqlStorageValue};

/// The SQLite database of one Durable Object (`ctx.storage.sql`).
pub struct DoSql {
    sql: SqlStorage,
}

impl DoSql {
    /// SQL over the object's database.
    pub fn new(sql: SqlStorage) -> Self {
        DoSql { sql }
    }
}

/// A parameter as the runtime takes it.
fn js_value(value: SqlValue) -> JsValue {
    match value {
        SqlValue::Null => JsValue::NULL,
        SqlValue::Integer(n) => JsValue::from(n as f64),
        SqlValue::Real(x) => JsValue::from(x),
        SqlValue::Text(text) => JsValue::from(text),
        SqlValue::Blob(bytes) => Uint8Array::from(&bytes[..]).buffer().into(),
    }
}

/// A column value as the neutral type.
fn sql_value(value: SqlStorageValue) -> SqlValue {
    match value {
        SqlStorageValue::Null => SqlValue::Null,
        SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(b)),
        SqlStorageValue::Integer(n) => SqlValue::Integer(n),
        SqlStorageValue::Float(x) => SqlValue::Real(x),
        SqlStorageValue::String(text) => SqlValue::Text(text),
        SqlStorageValue::Blob(bytes) => SqlValue::Blob(bytes.into()),
    }
}

#[async_trait::async_trait(?Send)]
impl SqlBackend for DoSql {
    async fn exec(&self, query: &str, params: Vec<SqlValue>) -> Result<Rows> {
        let fail = |error: worker::Error| ActorError::Sql {
            message: format!("{error} in `{query}`"),
        };
        let bindings: Vec<JsValue> = params.into_iter().map(js_value).collect();
        let cursor = self.sql.exec_raw(query, bindings).map_err(fail)?;
        let columns = cursor.column_names();
        let rows = cursor
            .raw()
            .map(|row| row.map(|values| values.into_iter().map(sql_value).collect()))
            .collect::<worker::Result<Vec<Vec<SqlValue>>>>()
            .map_err(fail)?;
        Ok(Rows::new(columns, rows, cursor.rows_written() as u64))
    }
}
