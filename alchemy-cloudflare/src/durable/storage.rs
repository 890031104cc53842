//! [`DoStorage`]: a Durable Object's key-value storage as the neutral [`StorageBackend`].

use alchemy::actor::{ActorError, ListOptions, Result, StorageBackend, WriteOp};
use bytes::Bytes;
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObjectStorage;

use crate::js::describe;

/// The provider name in messages.
pub(crate) const PROVIDER: &str = "cloudflare";

/// A failed storage call, as an [`ActorError`].
pub(crate) fn storage_error(operation: &str, error: &JsValue) -> ActorError {
    ActorError::backend(
        PROVIDER,
        format!(
            "Durable Object storage {operation} failed: {}",
            describe(error)
        ),
    )
}

/// Awaits a storage promise.
async fn wait(
    operation: &str,
    promise: std::result::Result<js_sys::Promise, JsValue>,
) -> Result<JsValue> {
    let promise = promise.map_err(|error| storage_error(operation, &error))?;
    JsFuture::from(promise)
        .await
        .map_err(|error| storage_error(operation, &error))
}

/// A stored value as bytes. Values are stored as `Uint8Array`s; a value some other code stored
/// as a string is read as its UTF-8 bytes.
fn bytes_of(key: &str, value: JsValue) -> Result<Bytes> {
    if let Some(array) = value.dyn_ref::<Uint8Array>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Bytes::from(Uint8Array::new(buffer).to_vec()));
    }
    if let Some(text) = value.as_string() {
        return Ok(Bytes::from(text));
    }
    Err(ActorError::backend(
        PROVIDER,
        format!(
            "the value under `{key}` was not stored through alchemy (it is {value:?}): \
             read it with the `worker` crate, or delete it"
        ),
    ))
}

/// The key-value storage of one Durable Object.
pub struct DoStorage {
    storage: DurableObjectStorage,
}

impl DoStorage {
    /// Storage over the object's `storage`.
    pub fn new(storage: DurableObjectStorage) -> Self {
        DoStorage { storage }
    }
}

#[async_trait::async_trait(?Send)]
impl StorageBackend for DoStorage {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let value = wait("get", self.storage.get(key)).await?;
        if value.is_undefined() {
            return Ok(None);
        }
        bytes_of(key, value).map(Some)
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<(String, Bytes)>> {
        let js = Object::new();
        let set = |name: &str, value: JsValue| {
            Reflect::set(&js, &name.into(), &value).map_err(|error| storage_error("list", &error))
        };
        if !options.prefix.is_empty() {
            set("prefix", options.prefix.as_str().into())?;
        }
        if let Some(after) = &options.start_after {
            if options.reverse {
                // `end` is exclusive: everything before `after`.
                set("end", after.as_str().into())?;
            } else {
                // `start` is inclusive: the smallest key after `after` is `after` + NUL.
                set("start", format!("{after}\0").into())?;
            }
        }
        if options.reverse {
            set("reverse", true.into())?;
        }
        if let Some(limit) = options.limit {
            if limit == 0 {
                return Ok(Vec::new());
            }
            set("limit", (limit as f64).into())?;
        }
        let map: js_sys::Map = wait("list", self.storage.list_with_options(js))
            .await?
            .unchecked_into();
        let mut entries = Vec::with_capacity(map.size() as usize);
        let iterator = map.entries();
        while let Ok(next) = iterator.next() {
            if next.done() {
                break;
            }
            let pair = js_sys::Array::from(&next.value());
            let key = pair.get(0).as_string().unwrap_or_default();
            let value = bytes_of(&key, pair.get(1))?;
            entries.push((key, value));
        }
        Ok(entries)
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<()> {
        // Writes issued with no `await` in between are committed together, atomically: start
        // every one, then wait for them all.
        let mut pending = Vec::with_capacity(ops.len());
        for op in &ops {
            let promise = match op {
                WriteOp::Put { key, value } => {
                    self.storage.put(key, Uint8Array::from(&value[..]).into())
                }
                WriteOp::Delete { key } => self.storage.delete(key),
            };
            pending.push(promise.map_err(|error| storage_error("write", &error))?);
        }
        for promise in pending {
            JsFuture::from(promise)
                .await
                .map_err(|error| storage_error("write", &error))?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let existed = wait("delete", self.storage.delete(key)).await?;
        Ok(existed.as_bool().unwrap_or(false))
    }

    async fn delete_all(&self) -> Result<()> {
        wait("deleteAll", self.storage.delete_all()).await?;
        Ok(())
    }
}

/// The alarm operations, on the same storage.
impl DoStorage {
    /// When the alarm is set, in milliseconds since the epoch.
    pub(crate) async fn get_alarm(&self) -> Result<Option<f64>> {
        let value = wait("getAlarm", self.storage.get_alarm(Object::new())).await?;
        Ok(value.as_f64())
    }

    /// Sets the alarm at `millis` since the epoch.
    pub(crate) async fn set_alarm(&self, millis: f64) -> Result<()> {
        let date = js_sys::Date::new(&JsValue::from(millis));
        wait("setAlarm", self.storage.set_alarm(date, Object::new())).await?;
        Ok(())
    }

    /// Deletes the alarm.
    pub(crate) async fn delete_alarm(&self) -> Result<()> {
        wait("deleteAlarm", self.storage.delete_alarm(Object::new())).await?;
        Ok(())
    }
}
