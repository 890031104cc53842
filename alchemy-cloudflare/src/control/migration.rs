//! Durable Object migrations: what an upload must say for the namespaces to follow the
//! classes a Worker exports.

use std::collections::BTreeSet;

use serde::Serialize;

use super::DurableObjectClass;

/// A Durable Object migration: what changes between the recorded classes and the wanted ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// The tag the script must be at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_tag: Option<String>,
    /// The tag it is at afterwards.
    pub new_tag: String,
    /// Classes that get a new namespace with SQLite storage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_sqlite_classes: Vec<String>,
    /// Namespaces that move to a new class name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renamed_classes: Vec<Rename>,
    /// Classes whose namespace (and every object in it) is deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_classes: Vec<String>,
}

/// One renamed class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// The old class name.
    pub from: String,
    /// The new class name.
    pub to: String,
}

impl Migration {
    /// The migration from the namespaces `recorded` (at migration tag `tag`) to the classes
    /// `wanted`, or `None` when they already match.
    pub fn between(
        recorded: &[String],
        tag: Option<&str>,
        wanted: &[DurableObjectClass],
    ) -> Option<Migration> {
        let has = |class: &str| recorded.iter().any(|c| c == class);
        let mut migration = Migration::default();
        let mut carried = BTreeSet::new();
        for class in wanted {
            if has(&class.class_name) {
                continue;
            }
            match &class.renamed_from {
                Some(from) if has(from) && carried.insert(from.clone()) => {
                    migration.renamed_classes.push(Rename {
                        from: from.clone(),
                        to: class.class_name.clone(),
                    })
                }
                _ => migration.new_sqlite_classes.push(class.class_name.clone()),
            }
        }
        migration.deleted_classes = recorded
            .iter()
            .filter(|c| !carried.contains(*c) && !wanted.iter().any(|w| &w.class_name == *c))
            .cloned()
            .collect();
        if migration.new_sqlite_classes.is_empty()
            && migration.renamed_classes.is_empty()
            && migration.deleted_classes.is_empty()
        {
            return None;
        }
        migration.old_tag = tag.map(str::to_owned);
        migration.new_tag = next_tag(tag);
        Some(migration)
    }

    /// The classes with a namespace after this migration, from `recorded`.
    pub(crate) fn apply(&self, recorded: &[String]) -> Vec<String> {
        let mut classes: Vec<String> = recorded
            .iter()
            .filter(|c| !self.deleted_classes.contains(c))
            .map(|c| {
                self.renamed_classes
                    .iter()
                    .find(|r| &r.from == c)
                    .map_or_else(|| c.clone(), |r| r.to.clone())
            })
            .collect();
        classes.extend(self.new_sqlite_classes.iter().cloned());
        classes.sort();
        classes
    }
}

/// `v1` after no tag, `v<n+1>` after `v<n>`, and `<tag>-1` after a tag of another form.
fn next_tag(tag: Option<&str>) -> String {
    match tag {
        None => "v1".to_owned(),
        Some(t) => match t.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => format!("v{}", n + 1),
            None => format!("{t}-1"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, from: Option<&str>) -> DurableObjectClass {
        DurableObjectClass {
            class_name: name.into(),
            renamed_from: from.map(Into::into),
        }
    }

    #[test]
    fn migrations_follow_the_classes() {
        assert_eq!(Migration::between(&[], None, &[]), None);
        let first = Migration::between(&[], None, &[class("Rooms", None)]).unwrap();
        assert_eq!(first.new_sqlite_classes, ["Rooms"]);
        assert_eq!(
            (first.old_tag.as_deref(), first.new_tag.as_str()),
            (None, "v1")
        );
        let recorded = first.apply(&[]);
        assert_eq!(
            Migration::between(&recorded, Some("v1"), &[class("Rooms", None)]),
            None
        );

        let rename =
            Migration::between(&recorded, Some("v1"), &[class("Chats", Some("Rooms"))]).unwrap();
        assert_eq!(
            rename.renamed_classes,
            [Rename {
                from: "Rooms".into(),
                to: "Chats".into()
            }]
        );
        assert!(rename.new_sqlite_classes.is_empty() && rename.deleted_classes.is_empty());
        assert_eq!(rename.new_tag, "v2");
        let recorded = rename.apply(&recorded);
        assert_eq!(recorded, ["Chats"]);
        // A rename already applied is not applied again.
        assert_eq!(
            Migration::between(&recorded, Some("v2"), &[class("Chats", Some("Rooms"))]),
            None
        );

        let delete = Migration::between(&recorded, Some("v2"), &[]).unwrap();
        assert_eq!(delete.deleted_classes, ["Chats"]);
        assert_eq!(delete.new_tag, "v3");
        assert_eq!(next_tag(Some("release")), "release-1");
    }
}
