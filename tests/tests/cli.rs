//! The command line of an app: plan output, JSON, bindings, stages, targets, outputs, state.

mod common;

use alchemy::bind::{Bindable, Declaration, Init, Phase, Runtime};
use alchemy_tests::cloud::{ThingClient, ThingDecl};
use common::{text, Sandbox};
use serde_json::Value;

#[test]
fn plan_json_is_one_object_with_changes_and_bindings() {
    let sandbox = Sandbox::new();
    let out = sandbox.ok(1, &["plan", "--json"]);
    let plan: Value = serde_json::from_str(&out).expect("one JSON object");
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 13);
    for c in changes {
        for field in ["id", "kind", "provider", "action"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
        assert_eq!(c["action"], "create");
        assert_eq!(c["provider"], "cloud");
    }
    assert_eq!(plan["summary"]["create"], 13);
    let bindings = plan["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2);
    let t3 = bindings.iter().find(|b| b["resource"] == "t3").unwrap();
    assert_eq!(t3["service"], "api");
    assert_eq!(t3["access"], "read-only");
    assert_eq!(
        t3["contribution"]["permissions"][0]["actions"],
        serde_json::json!(["thing:Get"])
    );
    assert_eq!(
        t3["contribution"]["env"]["THING_T3"],
        serde_json::json!({"$ref": "t3.name"})
    );
}

#[test]
fn plan_shows_bindings_under_their_service_with_least_privilege() {
    let sandbox = Sandbox::new();
    let out = sandbox.ok(1, &["plan"]);
    let api = out
        .find("+ api (cloud.thing, cloud)")
        .expect("the service is in the plan");
    let section = &out[api..];
    assert!(section.contains("bindings:\n        t0 (thing, read-write)  env THING_T0\n          allow thing:Get, thing:Put on ${t0.name}"), "{section}");
    assert!(
        section.contains(
            "t3 (thing, read-only)  env THING_T3\n          allow thing:Get on ${t3.name}"
        ),
        "{section}"
    );
    assert!(
        out.trim_end()
            .ends_with("Plan: 13 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged."),
        "{out}"
    );
}

#[test]
fn deploy_prints_progress_and_outputs_and_a_redeploy_is_a_noop() {
    let sandbox = Sandbox::new();
    let out = sandbox.ok(1, &["deploy", "--yes"]);
    assert!(out.contains("  + t0: creating..."), "{out}");
    assert!(out.contains("  + t0: created ("), "{out}");
    assert!(out.contains("Applied: 13 steps succeeded."), "{out}");
    assert!(out.contains("Outputs:\n"), "{out}");
    assert!(out.contains("  t5.name = crash-dev-t5"), "{out}");
    let again = sandbox.ok(1, &["deploy", "--yes"]);
    assert!(
        again.contains("No changes: the stage matches the stack."),
        "{again}"
    );
    assert!(again.contains("13 unchanged"), "{again}");
    let list = sandbox.ok(1, &["state", "list"]);
    assert_eq!(list.lines().count(), 13);
    assert!(
        list.lines()
            .all(|l| l.ends_with("\tcloud.thing\tcloud\tcreated")),
        "{list}"
    );
}

#[test]
fn deploy_without_yes_and_without_a_terminal_refuses() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(1, &["deploy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pass --yes"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        sandbox.state_files().keys().all(|f| f != "state.json"),
        "nothing was deployed"
    );
}

#[test]
fn stages_have_their_own_state() {
    let sandbox = Sandbox::new();
    sandbox.ok(1, &["deploy", "--yes", "--stage", "blue"]);
    let green = sandbox.ok(1, &["plan", "--stage", "green", "--json"]);
    let plan: Value = serde_json::from_str(&green).unwrap();
    assert_eq!(plan["summary"]["create"], 13, "green is empty: {green}");
    let blue = sandbox.ok(1, &["outputs", "--stage", "blue", "--json"]);
    let outputs: Value = serde_json::from_str(&blue).unwrap();
    assert_eq!(outputs["t1"]["name"], "crash-blue-t1");
}

#[test]
fn target_limits_a_deploy_to_a_resource_and_its_dependencies() {
    let sandbox = Sandbox::new();
    // t9 comes after t4, which comes after t1, which comes after t0.
    let out = sandbox.ok(1, &["deploy", "--yes", "--target", "t9", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut ids: Vec<&str> = v["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["t0", "t1", "t4", "t9"]);
    assert_eq!(sandbox.outputs().len(), 4);
    let err = sandbox.run(1, &["plan", "--target", "nope"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(text(&err.stderr).contains("--target `nope` is neither in the stack nor in state"));
}

#[test]
fn plan_detailed_exitcode_says_whether_there_are_changes() {
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox
            .run(1, &["plan", "--detailed-exitcode"])
            .status
            .code(),
        Some(3)
    );
    sandbox.ok(1, &["deploy", "--yes"]);
    assert_eq!(
        sandbox
            .run(1, &["plan", "--detailed-exitcode"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        sandbox
            .run(2, &["plan", "--detailed-exitcode"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        sandbox.run(1, &["plan", "--bogus"]).status.code(),
        Some(2),
        "bad usage"
    );
}

#[test]
fn destroy_removes_everything_and_outputs_say_so() {
    let sandbox = Sandbox::new();
    sandbox.ok(1, &["deploy", "--yes"]);
    let out = sandbox.ok(1, &["destroy", "--yes"]);
    assert!(out.contains("13 to delete"), "{out}");
    assert!(sandbox.outputs().is_empty());
    assert!(alchemy_tests::cloud::DirCloud::list(&sandbox.cloud()).is_empty());
    assert!(sandbox.ok(1, &["outputs"]).contains("has no resources"));
}

/// A runtime that hands out things by name, as a provider's runtime would.
struct Live;

impl Runtime for Live {
    fn phase(&self) -> Phase {
        Phase::Run
    }
    fn provider(&self) -> &str {
        "cloud"
    }
    fn custom(&self, d: &Declaration) -> alchemy::Result<Box<dyn std::any::Any>> {
        Ok(Box::new(format!("live-{}", d.id)))
    }
}

#[tokio::test]
async fn the_same_bind_records_at_plan_time_and_returns_a_client_at_run_time() {
    static THING: ThingDecl = ThingDecl {
        id: "t1",
        size: 1,
        after: None,
    };
    let mut planning = Init::new("api", &alchemy::bind::Planning);
    let client = planning.bind_read_only(&THING).await.unwrap();
    assert_eq!(client, THING.plan_client());
    let err = client.name().unwrap_err();
    assert!(
        err.to_string().contains("`t1` was used while planning"),
        "{err}"
    );
    assert_eq!(planning.requests().len(), 1);
    assert_eq!(planning.requests()[0].access, alchemy::Access::ReadOnly);

    let mut running = Init::new("api", &Live);
    let client = running.bind(&THING).await.unwrap();
    assert_eq!(client, ThingClient::Live("live-t1".into()));
    assert_eq!(client.name().unwrap(), "live-t1");
}

#[test]
fn ctrl_c_finishes_the_steps_in_flight_records_them_and_the_next_deploy_goes_on() {
    let sandbox = Sandbox::new();
    let mut deploy = sandbox.spawn(1, &["deploy", "--yes", "--concurrency", "1"], 100);
    let journal = sandbox.stage_dir().join("journal.jsonl");
    // Once the first step has begun (its checkpoint is written), press Ctrl-C.
    while !std::fs::read(&journal)
        .map(|j| j.contains(&b'\n'))
        .unwrap_or(false)
    {
        assert!(
            deploy.try_wait().unwrap().is_none(),
            "the deploy ended before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    unsafe { libc::kill(deploy.id() as i32, libc::SIGINT) };
    let out = deploy.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Interrupted: what was done is recorded"));
    let done = sandbox.outputs();
    assert!(
        !done.is_empty() && done.len() < 13,
        "some steps finished, not all: {done:?}"
    );
    assert!(
        sandbox.state_files()["journal.jsonl"].is_empty(),
        "the state was committed"
    );
    let again = sandbox.ok(1, &["deploy", "--yes"]);
    assert!(
        again.contains(&format!("{} to create", 13 - done.len())),
        "{again}"
    );
    assert_eq!(sandbox.outputs().len(), 13);
}

#[test]
fn plan_graph_writes_dot_svg_and_html_by_extension() {
    let sandbox = Sandbox::new();
    let dir = sandbox.dir.path();
    for name in ["plan.dot", "plan.svg", "plan.html"] {
        sandbox.ok(1, &["plan", "--graph", name]);
    }
    let dot = std::fs::read_to_string(dir.join("plan.dot")).unwrap();
    assert!(dot.starts_with("digraph "), "{dot}");
    assert_eq!(dot.matches("subgraph cluster_").count(), 1, "one provider");
    assert!(
        dot.contains("\"t3\" -> \"api\" [style=dashed, label=\"read-only\"];"),
        "{dot}"
    );
    let svg = std::fs::read_to_string(dir.join("plan.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<g class=\"node\">").count(), 13);
    let html = std::fs::read_to_string(dir.join("plan.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains(&svg));

    let out = sandbox.run(1, &["plan", "--graph", "plan.png"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "cannot tell the graph format of plan.png: name the file with .dot (Graphviz), .svg or .html"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plan_refresh_shows_drift_and_deploy_refresh_repairs_it() {
    let sandbox = Sandbox::new();
    sandbox.ok(1, &["deploy", "--yes"]);
    let thing = |id: &str| sandbox.cloud().join(format!("crash-dev-{id}"));
    let size_of_t2 = std::fs::read_to_string(thing("t2")).unwrap();
    std::fs::write(thing("t2"), "999").unwrap();
    std::fs::remove_file(thing("t5")).unwrap();

    // The recorded state alone sees nothing.
    let plain = sandbox.run(1, &["plan", "--detailed-exitcode"]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stdout));

    let refreshed = sandbox.run(1, &["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(refreshed.status.code(), Some(3));
    let out = text(&refreshed.stdout);
    assert!(
        out.contains("Changed outside Alchemy (read from the providers):"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  ! t2 (cloud.thing)  changed\n      ~ size: {} -> 999",
            size_of_t2.trim()
        )),
        "{out}"
    );
    assert!(out.contains("  ! t5 (cloud.thing)  deleted"), "{out}");
    assert!(out.contains("  + t5 (cloud.thing, cloud)"), "{out}");
    let json: Value =
        serde_json::from_str(&sandbox.ok(1, &["plan", "--refresh", "--json"])).unwrap();
    assert_eq!(json["drift"].as_array().unwrap().len(), 2, "{json}");

    sandbox.ok(1, &["deploy", "--yes", "--refresh"]);
    assert_eq!(std::fs::read_to_string(thing("t2")).unwrap(), size_of_t2);
    assert!(thing("t5").exists());
    let again = sandbox.run(1, &["plan", "--refresh", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));
}

#[test]
fn deploy_adopt_takes_over_a_thing_made_by_hand() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.cloud()).unwrap();
    std::fs::write(sandbox.cloud().join("crash-dev-t0"), "7").unwrap();

    let refused = sandbox.run(1, &["deploy", "--yes"]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stdout).contains("crash-dev-t0"),
        "the taken name is named: {}",
        text(&refused.stdout)
    );

    let adopted = sandbox.ok(1, &["deploy", "--yes", "--adopt"]);
    assert!(
        adopted.contains("# --adopt: a resource that exists with its name is taken over"),
        "{adopted}"
    );
    let outputs = sandbox.outputs();
    assert_eq!(outputs.len(), 13, "{outputs:?}");
    let creates = std::fs::read_to_string(sandbox.cloud().join("creates.log")).unwrap();
    assert!(
        !creates.lines().any(|l| l == "crash-dev-t0"),
        "t0 was taken over, not created: {creates}"
    );
    let again = sandbox.run(1, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));
}
