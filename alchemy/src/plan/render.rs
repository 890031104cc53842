//! A plan for people: `+ ~ - -/+` per resource, property diffs, bindings, a summary line.

use std::fmt::Write;

use serde_json::Value;

use super::{Action, Plan};

/// Renders `plan` the way `terraform plan` does; secrets show as `[secret]`.
pub fn render_human(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan for {} (stage {}):", plan.app, plan.stage);
    let _ = writeln!(out);
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "Changed outside Alchemy (read from the providers):");
        for d in &plan.drift {
            match &d.change {
                super::DriftChange::Gone => {
                    let _ = writeln!(out, "  ! {} ({})  deleted", d.id, d.kind);
                }
                super::DriftChange::Changed { diffs } => {
                    let _ = writeln!(out, "  ! {} ({})  changed", d.id, d.kind);
                    for diff in diffs {
                        let _ = match (&diff.old, &diff.new) {
                            (Some(old), Some(new)) => writeln!(
                                out,
                                "      ~ {}: {} -> {}",
                                diff.path,
                                show(old),
                                show(new)
                            ),
                            (None, Some(new)) => {
                                writeln!(out, "      + {} = {}", diff.path, show(new))
                            }
                            (Some(old), None) => {
                                writeln!(out, "      - {} = {}", diff.path, show(old))
                            }
                            (None, None) => Ok(()),
                        };
                    }
                }
            }
        }
        let _ = writeln!(out);
    }
    let mut shown = 0usize;
    for c in &plan.changes {
        let bindings: Vec<_> = plan.bindings.iter().filter(|b| b.service == c.id).collect();
        if c.action == Action::Noop && bindings.is_empty() {
            continue;
        }
        shown += 1;
        let mut head = format!(
            "  {} {} ({}, {})",
            c.action.sign(),
            c.id,
            c.kind,
            c.provider
        );
        match c.action {
            Action::Noop => head.push_str("  unchanged"),
            Action::Replace if c.delete_first => head.push_str("  delete first"),
            Action::Forget => head.push_str("  forget"),
            _ => {}
        }
        if let Some(g) = c.generation {
            let _ = write!(head, "  generation {g}");
        }
        let _ = writeln!(out, "{head}");
        if let Some(reason) = &c.reason {
            let _ = writeln!(out, "      # {reason}");
        }
        for d in &c.diffs {
            let _ = match (&d.old, &d.new) {
                (None, Some(new)) => writeln!(out, "      + {} = {}", d.path, show(new)),
                (Some(old), None) => writeln!(out, "      - {} = {}", d.path, show(old)),
                (Some(old), Some(new)) => {
                    writeln!(out, "      ~ {}: {} -> {}", d.path, show(old), show(new))
                }
                (None, None) => Ok(()),
            };
        }
        if !bindings.is_empty() {
            let _ = writeln!(out, "      bindings:");
            for b in bindings {
                let _ = write!(out, "        {} ({}, {})", b.resource, b.kind, b.access);
                let env: Vec<&str> = b.contribution.env.keys().map(String::as_str).collect();
                if !env.is_empty() {
                    let _ = write!(out, "  env {}", env.join(", "));
                }
                let secrets: Vec<String> = b
                    .contribution
                    .secrets
                    .keys()
                    .map(|name| format!("{name} = {}", crate::secret::REDACTED))
                    .collect();
                if !secrets.is_empty() {
                    let _ = write!(out, "  secrets {}", secrets.join(", "));
                }
                let _ = writeln!(out);
                for p in &b.contribution.permissions {
                    let on: Vec<String> = p.resources.iter().map(show).collect();
                    let _ = writeln!(
                        out,
                        "          allow {} on {}",
                        p.actions.join(", "),
                        on.join(", ")
                    );
                }
            }
        }
    }
    if !plan.has_changes() {
        if shown > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "  No changes: the stage matches the stack.");
    }
    let s = plan.summary;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    );
    out
}

fn show(v: &Value) -> String {
    if let Some((id, path)) = crate::resource::as_ref(v) {
        return format!("${{{id}.{path}}}");
    }
    match v {
        Value::String(s) if s == super::UNKNOWN => s.clone(),
        other => other.to_string(),
    }
}
