//! The desired resources of one app on one stage, and the bindings of its services.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::bind::Access;
use crate::error::{Error, Result};
use crate::resource::{references, validate_id, Handle, RemovalPolicy, Resource, ResourceDef};

/// One permission a binding grants the service that holds it, in the provider's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// The actions allowed (for AWS, IAM actions such as `s3:GetObject`).
    pub actions: Vec<String>,
    /// What they are allowed on (for AWS, ARNs, possibly references to outputs).
    pub resources: Vec<Value>,
}

/// What binding a resource contributes to the service that binds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Contribution {
    /// Environment variables of the service; values may be references to outputs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, Value>,
    /// Secret environment variables of the service: references to secret outputs (or
    /// [`Secret`](crate::Secret)s), which the service's platform passes as secrets. A plan
    /// shows each as `[secret]`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "redacted"
    )]
    pub secrets: BTreeMap<String, Value>,
    /// Provider binding metadata (for Cloudflare, the `bindings` entry of the script).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    /// The permissions the client needs, and no more.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
}

/// Every value shown as `[secret]`, whatever it is.
fn redacted<S: serde::Serializer>(
    secrets: &BTreeMap<String, Value>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(secrets.len()))?;
    for name in secrets.keys() {
        map.serialize_entry(name, crate::secret::REDACTED)?;
    }
    map.end()
}

/// A binding of a resource to a service, as recorded at plan time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    /// The service that binds.
    pub service: String,
    /// The bound resource's logical id.
    pub resource: String,
    /// The neutral kind of the bound resource (`bucket`, `actors`).
    pub kind: String,
    /// What the service may do with it.
    pub access: Access,
    /// What the binding adds to the service.
    pub contribution: Contribution,
}

/// The desired resources of one app on one stage.
#[derive(Debug, Clone)]
pub struct Stack {
    app: String,
    stage: String,
    resources: Vec<ResourceDef>,
    index: HashMap<String, usize>,
    bindings: Vec<Binding>,
}

impl Stack {
    /// An empty stack.
    pub fn new(app: &str, stage: &str) -> Self {
        Stack {
            app: app.to_string(),
            stage: stage.to_string(),
            resources: Vec::new(),
            index: HashMap::new(),
            bindings: Vec::new(),
        }
    }

    /// The app.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The stage.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// Adds a resource; its references to other resources' outputs become dependencies.
    pub fn add<R: Resource>(&mut self, id: &str, props: R) -> Result<Handle<R>> {
        let props = serde_json::to_value(&props)?;
        self.add_def(ResourceDef {
            id: id.to_string(),
            kind: R::KIND.to_string(),
            props,
            deps: BTreeSet::new(),
            removal: RemovalPolicy::Destroy,
        })?;
        Ok(Handle::new(id.to_string()))
    }

    /// Adds a resource given as JSON; references in `props` are added to its dependencies.
    pub fn add_def(&mut self, mut def: ResourceDef) -> Result<()> {
        validate_id(&def.id)?;
        if self.index.contains_key(&def.id) {
            return Err(Error::DuplicateId { id: def.id });
        }
        references(&def.props, &mut def.deps);
        self.index.insert(def.id.clone(), self.resources.len());
        self.resources.push(def);
        Ok(())
    }

    /// Makes `id` come after `after`, though it does not refer to it.
    pub fn depends_on(&mut self, id: &str, after: &str) -> Result<()> {
        let def = self.get_mut(id)?;
        def.deps.insert(after.to_string());
        Ok(())
    }

    /// Sets what happens to `id` when it is removed or the stack is destroyed.
    pub fn set_removal(&mut self, id: &str, removal: RemovalPolicy) -> Result<()> {
        self.get_mut(id)?.removal = removal;
        Ok(())
    }

    /// Records a binding, for the plan to show under its service.
    pub fn record_binding(&mut self, binding: Binding) {
        self.bindings.push(binding);
    }

    /// A resource by id.
    pub fn get(&self, id: &str) -> Option<&ResourceDef> {
        self.index.get(id).map(|&i| &self.resources[i])
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut ResourceDef> {
        match self.index.get(id) {
            Some(&i) => Ok(&mut self.resources[i]),
            None => Err(Error::Config(format!("no resource `{id}` in the stack"))),
        }
    }

    /// Every resource, in the order added.
    pub fn resources(&self) -> &[ResourceDef] {
        &self.resources
    }

    /// Every binding recorded.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }
}
