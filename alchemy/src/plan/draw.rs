//! Pictures of a plan: its dependency graph as DOT (for Graphviz) and as a self-contained
//! HTML page with an SVG drawing, providers told apart by colour and actions by fill.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::{Action, Change, Plan};

/// Outline colours given to providers in order of first appearance.
const PROVIDER_COLOURS: [&str; 8] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#be123c", "#4d7c0f", "#854d0e",
];

fn fill(action: Action) -> &'static str {
    match action {
        Action::Create => "#dcfce7",
        Action::Update => "#fef9c3",
        Action::Replace => "#ffedd5",
        Action::Delete | Action::Forget => "#fee2e2",
        Action::Noop => "#ffffff",
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Forget => "forget",
        Action::Noop => "unchanged",
    }
}

/// A node's name: its id, with the generation for a retired one.
fn node_name(change: &Change) -> String {
    match change.generation {
        Some(g) => format!("{}#{g}", change.id),
        None => change.id.clone(),
    }
}

/// The providers of a plan, each with its colour, in order of first appearance.
fn providers(plan: &Plan) -> Vec<(&str, &'static str)> {
    let mut seen: Vec<&str> = Vec::new();
    for change in &plan.changes {
        if !seen.contains(&change.provider.as_str()) {
            seen.push(&change.provider);
        }
    }
    seen.into_iter()
        .enumerate()
        .map(|(i, p)| (p, PROVIDER_COLOURS[i % PROVIDER_COLOURS.len()]))
        .collect()
}

/// The edges of the drawing: `(from, to, label)`, a dependency pointing from what comes first,
/// and a binding from the bound resource to its service, labelled with the access.
fn edges(plan: &Plan) -> Vec<(String, String, Option<String>)> {
    let present: HashMap<&str, ()> = plan.changes.iter().map(|c| (c.id.as_str(), ())).collect();
    let mut edges = Vec::new();
    for change in plan.changes.iter().filter(|c| c.generation.is_none()) {
        for dep in &change.depends_on {
            if present.contains_key(dep.as_str()) {
                edges.push((dep.clone(), change.id.clone(), None));
            }
        }
    }
    for binding in &plan.bindings {
        if present.contains_key(binding.resource.as_str())
            && present.contains_key(binding.service.as_str())
        {
            edges.retain(|(from, to, _)| !(from == &binding.resource && to == &binding.service));
            edges.push((
                binding.resource.clone(),
                binding.service.clone(),
                Some(binding.access.to_string()),
            ));
        }
    }
    edges
}

fn dot_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The plan's dependency graph in Graphviz DOT: one cluster per provider, nodes filled by
/// action (green create, yellow update, orange replace, red delete), dependencies as solid
/// edges and bindings as dashed edges labelled with their access.
///
/// ```sh
/// app plan --graph plan.dot && dot -Tsvg plan.dot > plan.svg
/// ```
pub fn to_dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph {} {{",
        dot_string(&format!("{} ({})", plan.app, plan.stage))
    );
    out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n  edge [color=\"#64748b\"];\n");
    for (i, (provider, colour)) in providers(plan).into_iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(
            out,
            "    label={}; color={}; fontcolor={}; style=rounded;",
            dot_string(provider),
            dot_string(colour),
            dot_string(colour)
        );
        for change in plan.changes.iter().filter(|c| c.provider == provider) {
            let label = format!(
                "{} {}\n{}\n{}",
                change.action.sign().trim(),
                node_name(change),
                change.kind,
                verb(change.action)
            );
            let _ = writeln!(
                out,
                "    {} [label={}, fillcolor={}, color={}];",
                dot_string(&node_name(change)),
                dot_string(label.trim_start()),
                dot_string(fill(change.action)),
                dot_string(colour)
            );
        }
        out.push_str("  }\n");
    }
    for (from, to, label) in edges(plan) {
        match label {
            Some(access) => {
                let _ = writeln!(
                    out,
                    "  {} -> {} [style=dashed, label={}];",
                    dot_string(&from),
                    dot_string(&to),
                    dot_string(&access)
                );
            }
            None => {
                let _ = writeln!(out, "  {} -> {};", dot_string(&from), dot_string(&to));
            }
        }
    }
    out.push_str("}\n");
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CHAR_WIDTH: f64 = 7.0;
const NODE_HEIGHT: f64 = 46.0;
const ROW_GAP: f64 = 18.0;
const COLUMN_GAP: f64 = 70.0;
const MARGIN: f64 = 24.0;
const LEGEND_HEIGHT: f64 = 64.0;

struct Placed {
    x: f64,
    y: f64,
    width: f64,
}

/// Columns by longest path from the roots; within a column, nodes ordered by the mean row
/// of what they come after, so edges mostly run straight.
fn layout(plan: &Plan, edges: &[(String, String, Option<String>)]) -> (Vec<Vec<usize>>, Vec<f64>) {
    let index: HashMap<String, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (node_name(c), i))
        .collect();
    let n = plan.changes.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, to, _) in edges {
        if let (Some(&f), Some(&t)) = (index.get(from), index.get(to)) {
            if f != t {
                preds[t].push(f);
            }
        }
    }
    // Plans list desired resources in dependency order: one pass settles the columns. Edges
    // against that order (a delete's recorded dependencies) are relaxed a bounded number of times.
    let mut column = vec![0usize; n];
    for _ in 0..n.min(64) {
        let mut changed = false;
        for t in 0..n {
            let c = preds[t].iter().map(|&f| column[f] + 1).max().unwrap_or(0);
            if c > column[t] && c < n {
                column[t] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let columns = column.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_column: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, &c) in column.iter().enumerate() {
        by_column[c].push(i);
    }
    let mut row = vec![0f64; n];
    for nodes in &mut by_column {
        let key = |i: &usize| {
            if preds[*i].is_empty() {
                *i as f64
            } else {
                preds[*i].iter().map(|&p| row[p]).sum::<f64>() / preds[*i].len() as f64
            }
        };
        nodes.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
        for (r, &i) in nodes.iter().enumerate() {
            row[i] = r as f64;
        }
    }
    (by_column, row)
}

/// The plan's dependency graph as a standalone SVG drawing: resources in columns by dependency
/// depth, outlined in their provider's colour and filled by action, with a legend; each node's
/// tooltip lists its property changes.
pub fn to_svg(plan: &Plan) -> String {
    let edges = edges(plan);
    let (columns, _) = layout(plan, &edges);
    let colours: BTreeMap<&str, &str> = providers(plan).into_iter().collect();
    let label_width = |c: &Change| {
        let chars = node_name(c).len().max(c.kind.len()) + 3;
        (chars as f64 * CHAR_WIDTH).max(90.0) + 16.0
    };
    let mut placed: HashMap<String, Placed> = HashMap::new();
    let mut x = MARGIN;
    let mut height: f64 = 0.0;
    for nodes in &columns {
        let width = nodes
            .iter()
            .map(|&i| label_width(&plan.changes[i]))
            .fold(0.0, f64::max);
        for (r, &i) in nodes.iter().enumerate() {
            let y = MARGIN + LEGEND_HEIGHT + r as f64 * (NODE_HEIGHT + ROW_GAP);
            height = height.max(y + NODE_HEIGHT);
            placed.insert(node_name(&plan.changes[i]), Placed { x, y, width });
        }
        x += width + COLUMN_GAP;
    }
    let width = (x - COLUMN_GAP + MARGIN).max(520.0);
    let height = (height + MARGIN).max(MARGIN * 2.0 + LEGEND_HEIGHT);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="ui-monospace, SFMono-Regular, Menlo, monospace" font-size="12">"##
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b"/></marker></defs>"##);
    svg.push('\n');

    // Legend: providers, then actions.
    let mut lx = MARGIN;
    for (provider, colour) in &colours {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.0}" y="{:.0}" width="14" height="14" rx="3" fill="#fff" stroke="{colour}" stroke-width="2.5"/><text x="{:.0}" y="{:.0}">{}</text>"##,
            MARGIN,
            lx + 20.0,
            MARGIN + 11.0,
            xml(provider)
        );
        lx += 34.0 + provider.len() as f64 * CHAR_WIDTH;
    }
    let mut lx = MARGIN;
    for action in [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Noop,
    ] {
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.0}" y="{:.0}" width="14" height="14" rx="3" fill="{}" stroke="#94a3b8"/><text x="{:.0}" y="{:.0}">{}</text>"##,
            MARGIN + 24.0,
            fill(action),
            lx + 20.0,
            MARGIN + 35.0,
            verb(action)
        );
        lx += 34.0 + verb(action).len() as f64 * CHAR_WIDTH;
    }

    for (from, to, label) in &edges {
        let (Some(a), Some(b)) = (placed.get(from), placed.get(to)) else {
            continue;
        };
        let (x1, y1) = (a.x + a.width, a.y + NODE_HEIGHT / 2.0);
        let (x2, y2) = (b.x, b.y + NODE_HEIGHT / 2.0);
        let bend = ((x2 - x1).abs() / 2.0).max(30.0);
        let dash = if label.is_some() {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r##"<path d="M {x1:.1} {y1:.1} C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}" fill="none" stroke="#64748b" stroke-width="1.3"{dash} marker-end="url(#arrow)"/>"##,
            x1 + bend,
            x2 - bend
        );
        if let Some(access) = label {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#475569" text-anchor="middle">{}</text>"##,
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - 4.0,
                xml(access)
            );
        }
    }

    for change in &plan.changes {
        let name = node_name(change);
        let Some(p) = placed.get(&name) else {
            continue;
        };
        let colour = colours
            .get(change.provider.as_str())
            .copied()
            .unwrap_or("#334155");
        let mut title = format!(
            "{name} ({}, {}): {}",
            change.kind,
            change.provider,
            verb(change.action)
        );
        if let Some(reason) = &change.reason {
            let _ = write!(title, "\n{reason}");
        }
        for diff in &change.diffs {
            let _ = write!(
                title,
                "\n{}",
                serde_json::to_string(diff).unwrap_or_default()
            );
        }
        let _ = writeln!(
            svg,
            r##"<g class="node"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{NODE_HEIGHT:.0}" rx="7" fill="{}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-weight="bold">{} {}</text><text x="{:.1}" y="{:.1}" fill="#475569">{}</text></g>"##,
            xml(&title),
            p.x,
            p.y,
            p.width,
            fill(change.action),
            p.x + 8.0,
            p.y + 19.0,
            xml(change.action.sign().trim()),
            xml(&name),
            p.x + 8.0,
            p.y + 36.0,
            xml(&change.kind)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The plan's dependency graph as one self-contained HTML page: the [`to_svg`] drawing inline,
/// with a heading and the plan's summary; nothing is fetched.
pub fn to_html(plan: &Plan) -> String {
    let svg = to_svg(plan);
    let s = plan.summary;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plan for {app} ({stage})</title>
<style>
body {{ margin: 0; padding: 16px 20px; font-family: system-ui, sans-serif; color: #0f172a; background: #f8fafc; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
p {{ margin: 0 0 12px; color: #475569; font-size: 13px; }}
.graph {{ overflow: auto; background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; }}
.node:hover rect {{ stroke-width: 3.5; }}
</style>
</head>
<body>
<h1>Plan for {app} ({stage})</h1>
<p>{create} to create, {update} to update, {replace} to replace, {delete} to delete, {unchanged} unchanged</p>
<div class="graph">
{svg}</div>
</body>
</html>
"#,
        app = xml(&plan.app),
        stage = xml(&plan.stage),
        create = s.create,
        update = s.update,
        replace = s.replace,
        delete = s.delete,
        unchanged = s.unchanged,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::Access;
    use crate::plan::{Step, Summary};
    use crate::stack::{Binding, Contribution};

    fn change(id: &str, provider: &str, action: Action, deps: &[&str]) -> Change {
        Change {
            id: id.into(),
            kind: format!("{provider}.thing"),
            provider: provider.into(),
            action,
            delete_first: false,
            generation: None,
            reason: None,
            diffs: Vec::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            step: Step::None,
        }
    }

    fn plan() -> Plan {
        Plan {
            app: "photo \"share\"".into(),
            stage: "x<y".into(),
            changes: vec![
                change("photos", "aws", Action::Create, &[]),
                change("rooms", "cloudflare", Action::Update, &[]),
                change("api", "cloudflare", Action::Replace, &["photos", "rooms"]),
                change("old", "aws", Action::Delete, &["photos"]),
            ],
            bindings: vec![Binding {
                service: "api".into(),
                resource: "photos".into(),
                kind: "bucket".into(),
                access: Access::ReadOnly,
                contribution: Contribution::default(),
            }],
            summary: Summary {
                create: 1,
                update: 1,
                replace: 1,
                delete: 1,
                unchanged: 0,
            },
            drift: Vec::new(),
        }
    }

    #[test]
    fn dot_has_a_cluster_per_provider_and_every_edge() {
        let dot = to_dot(&plan());
        assert!(
            dot.starts_with("digraph \"photo \\\"share\\\" (x<y)\" {"),
            "{dot}"
        );
        assert_eq!(dot.matches("subgraph cluster_").count(), 2, "{dot}");
        assert!(dot.contains("label=\"aws\"") && dot.contains("label=\"cloudflare\""));
        assert!(dot.contains("\"rooms\" -> \"api\";"), "{dot}");
        assert!(dot.contains("\"photos\" -> \"old\";"), "{dot}");
        assert!(
            dot.contains("\"photos\" -> \"api\" [style=dashed, label=\"read-only\"];"),
            "the binding replaces the plain dependency: {dot}"
        );
        assert!(!dot.contains("\"photos\" -> \"api\";"), "{dot}");
        assert!(dot.contains("fillcolor=\"#dcfce7\""), "creates are green");
        assert_eq!(dot.matches(" -> ").count(), 3);
    }

    #[test]
    fn html_draws_every_node_in_dependency_columns_and_escapes_text() {
        let plan = plan();
        let html = to_html(&plan);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<title>Plan for photo &quot;share&quot; (x&lt;y)</title>"));
        assert!(!html.contains("<script"), "nothing runs or is fetched");
        assert_eq!(
            html.matches("http").count(),
            1,
            "no address but the SVG namespace"
        );
        assert_eq!(
            html.matches("<g class=\"node\">").count(),
            plan.changes.len()
        );
        assert!(html.contains("1 to create, 1 to update, 1 to replace, 1 to delete, 0 unchanged"));
        // A node's x is where its rect starts; dependents sit right of what they need.
        let x_of = |id: &str| -> f64 {
            let marker = format!(
                "font-weight=\"bold\">{} {id}</text>",
                match id {
                    "photos" => "+",
                    "rooms" => "~",
                    "api" => "-/+",
                    _ => "-",
                }
            );
            let at = html.find(&marker).unwrap_or_else(|| panic!("{id} drawn"));
            let rect = html[..at].rfind("<rect x=\"").unwrap() + 9;
            html[rect..].split('"').next().unwrap().parse().unwrap()
        };
        assert!(x_of("api") > x_of("photos"));
        assert!(x_of("api") > x_of("rooms"));
        assert!(x_of("old") > x_of("photos"));
        assert_eq!(x_of("photos"), x_of("rooms"));
        assert_eq!(html.matches("stroke-dasharray").count(), 1, "one binding");
        assert_eq!(html.matches("marker-end").count(), 3, "three edges");
    }
}
