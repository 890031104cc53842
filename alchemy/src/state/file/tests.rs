//! The file backend against real files in temporary directories.

use std::sync::{Arc, Barrier};

use serde_json::json;

use super::*;
use crate::resource::RemovalPolicy;
use crate::state::{ResourceState, SecretsHeader, Status};

const TTL: Duration = Duration::from_secs(60);

fn stage_dir(root: &tempfile::TempDir) -> PathBuf {
    root.path().join(".alchemy").join("dev")
}

fn backend(root: &tempfile::TempDir) -> FileBackend {
    FileBackend::new(stage_dir(root), "photos", "dev")
}

fn owner(user: &str) -> LeaseOwner {
    LeaseOwner {
        user: user.into(),
        ..LeaseOwner::current()
    }
}

/// A record of about 300 bytes.
fn record(n: usize) -> ResourceState {
    ResourceState {
        kind: "bucket".into(),
        provider: "local".into(),
        status: Status::Created,
        props: json!({ "name": format!("photos-bucket-{n:05}"), "public": false, "region": "auto" }),
        output: Some(
            json!({ "url": format!("https://example.invalid/buckets/photos-bucket-{n:05}"), "created": "2026-01-01T00:00:00Z" }),
        ),
        pending_props: None,
        deps: vec!["account".into(), "zone".into()],
        removal: RemovalPolicy::Destroy,
        generation: 0,
        retired: Vec::new(),
    }
}

fn put(id: &str, n: usize) -> JournalEntry {
    JournalEntry::Put {
        id: id.into(),
        record: record(n),
    }
}

fn snapshot_with(ids: &[&str]) -> Snapshot {
    let mut snapshot = Snapshot::new("photos", "dev");
    for (n, id) in ids.iter().enumerate() {
        snapshot.resources.insert(id.to_string(), record(n));
    }
    snapshot
}

fn ids(snapshot: &Snapshot) -> Vec<&str> {
    snapshot.resources.keys().map(String::as_str).collect()
}

/// Every file of a directory with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn append_raw(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[tokio::test]
async fn a_stage_never_deployed_loads_as_none_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    assert_eq!(backend.load().await.unwrap(), None);
    assert!(!stage_dir(&root).exists());
    backend.force_unlock().await.unwrap();
    assert!(!stage_dir(&root).exists());
    assert_eq!(
        backend.describe(),
        format!("file {}", stage_dir(&root).display())
    );
}

#[tokio::test]
async fn commit_then_load_round_trips_and_bumps_the_serial() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    let mut snapshot = snapshot_with(&["a", "b"]);
    snapshot.secrets = Some(SecretsHeader {
        kdf: "argon2id".into(),
        salt: "c2FsdA==".into(),
        check: "Y2hlY2s=".into(),
    });
    backend.commit(&lease, &snapshot).await.unwrap();

    let loaded = backend.load().await.unwrap().unwrap();
    assert_eq!(
        loaded,
        Snapshot {
            serial: 1,
            ..snapshot.clone()
        }
    );
    backend.commit(&lease, &loaded).await.unwrap();
    assert_eq!(backend.load().await.unwrap().unwrap().serial, 2);

    // Another backend on the same directory (another process) sees the same state.
    let other = FileBackend::new(stage_dir(&root), "photos", "dev");
    assert_eq!(
        other.load().await.unwrap().unwrap(),
        Snapshot {
            serial: 2,
            ..snapshot
        }
    );

    let bytes = fs::read(stage_dir(&root).join("state.json")).unwrap();
    assert!(
        !bytes.contains(&b'\n'),
        "the snapshot is written as compact JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_the_multi_thread_runtime() {
    let root = tempfile::tempdir().unwrap();
    let backend = Arc::new(backend(&root));
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();
    // From tasks on the workers as well as from the task `block_on` drives.
    let tasks: Vec<_> = (0..4)
        .map(|n| {
            let (backend, lease) = (Arc::clone(&backend), lease.clone());
            tokio::spawn(async move {
                backend
                    .append(&lease, &put(&format!("t{n}"), n))
                    .await
                    .unwrap();
                backend.load().await.unwrap().unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().resources.contains_key("a"));
    }
    let loaded = backend.load().await.unwrap().unwrap();
    assert_eq!(ids(&loaded), ["a", "t0", "t1", "t2", "t3"]);
    backend.commit(&lease, &loaded).await.unwrap();
    backend.unlock(&lease).await.unwrap();
}

#[tokio::test]
async fn the_journal_is_replayed_onto_the_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a", "b"]))
        .await
        .unwrap();
    let header = SecretsHeader {
        kdf: "raw".into(),
        salt: String::new(),
        check: "Y2hlY2s=".into(),
    };
    backend.append(&lease, &put("c", 7)).await.unwrap();
    backend
        .append(&lease, &JournalEntry::Remove { id: "a".into() })
        .await
        .unwrap();
    backend.append(&lease, &put("b", 9)).await.unwrap();
    backend
        .append(
            &lease,
            &JournalEntry::Secrets {
                header: header.clone(),
            },
        )
        .await
        .unwrap();

    let loaded = FileBackend::new(stage_dir(&root), "photos", "dev")
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&loaded), ["b", "c"]);
    assert_eq!(loaded.resources["b"], record(9));
    assert_eq!(loaded.resources["c"], record(7));
    assert_eq!(loaded.secrets, Some(header));
    assert_eq!(loaded.serial, 1);

    // A commit folds the journal into the snapshot and empties it.
    backend.commit(&lease, &loaded).await.unwrap();
    assert_eq!(
        fs::read(stage_dir(&root).join("journal.jsonl")).unwrap(),
        b""
    );
    let committed = backend.load().await.unwrap().unwrap();
    assert_eq!(
        committed,
        Snapshot {
            serial: 2,
            ..loaded
        }
    );
}

#[tokio::test]
async fn a_journal_without_a_snapshot_replays_onto_an_empty_state() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend.append(&lease, &put("a", 1)).await.unwrap();
    backend.append(&lease, &put("b", 2)).await.unwrap();
    assert!(!stage_dir(&root).join("state.json").exists());

    let loaded = backend.load().await.unwrap().unwrap();
    let mut expected = Snapshot::new("photos", "dev");
    expected.resources.insert("a".into(), record(1));
    expected.resources.insert("b".into(), record(2));
    assert_eq!(loaded, expected);
}

#[tokio::test]
async fn a_torn_last_line_is_ignored_and_cut_off_by_the_next_writer() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend.append(&lease, &put("a", 1)).await.unwrap();
    backend.append(&lease, &put("b", 2)).await.unwrap();

    // A process killed in the middle of its write leaves part of a line, without its newline.
    let journal = stage_dir(&root).join("journal.jsonl");
    let mut line = Vec::new();
    journal::encode(&mut line, 0, &put("c", 3)).unwrap();
    append_raw(&journal, &line[..line.len() / 2]);
    let before = files(&stage_dir(&root));

    let loaded = backend.load().await.unwrap().unwrap();
    assert_eq!(ids(&loaded), ["a", "b"]);
    assert_eq!(files(&stage_dir(&root)), before, "loading changes no file");

    // The next holder cuts the torn line off before appending, so its line stands alone.
    backend.unlock(&lease).await.unwrap();
    let next = FileBackend::new(stage_dir(&root), "photos", "dev");
    let lease = next.lock(&owner("bob"), TTL).await.unwrap();
    next.append(&lease, &put("d", 4)).await.unwrap();
    assert_eq!(ids(&next.load().await.unwrap().unwrap()), ["a", "b", "d"]);
    let text = fs::read_to_string(&journal).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn a_last_line_failing_its_checksum_is_ignored() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend.append(&lease, &put("a", 1)).await.unwrap();
    backend.append(&lease, &put("b", 2)).await.unwrap();
    let journal = stage_dir(&root).join("journal.jsonl");
    let mut text = fs::read_to_string(&journal).unwrap();
    let digit = text.rfind(r#""crc":"#).unwrap() + 6;
    let changed = if &text[digit..=digit] == "1" {
        "2"
    } else {
        "1"
    };
    text.replace_range(digit..=digit, changed);
    fs::write(&journal, &text).unwrap();
    let bytes = text.into_bytes();

    assert_eq!(ids(&backend.load().await.unwrap().unwrap()), ["a"]);
    assert_eq!(fs::read(&journal).unwrap(), bytes);
}

#[tokio::test]
async fn a_damaged_line_followed_by_good_lines_is_corruption() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    for (n, id) in ["a", "b", "c"].into_iter().enumerate() {
        backend.append(&lease, &put(id, n)).await.unwrap();
    }
    let journal = stage_dir(&root).join("journal.jsonl");
    let mut bytes = fs::read(&journal).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let at = second + 40;
    assert!(bytes[at].is_ascii_alphabetic());
    bytes[at] ^= 0x20; // a letter changes case: still JSON, but no longer what was summed
    fs::write(&journal, &bytes).unwrap();
    let before = files(&stage_dir(&root));

    let err = backend.load().await.unwrap_err();
    let Error::CorruptState { path, detail, .. } = &err else {
        panic!("expected CorruptState, got {err}");
    };
    assert_eq!(path, &journal);
    assert!(detail.starts_with("line 2 fails its checksum"), "{detail}");
    assert!(err.to_string().contains("journal.jsonl"), "{err}");
    assert_eq!(files(&stage_dir(&root)), before, "loading changes no file");

    // Appending onto a corrupt journal is refused too.
    backend.unlock(&lease).await.unwrap();
    let next = FileBackend::new(stage_dir(&root), "photos", "dev");
    let lease = next.lock(&owner("bob"), TTL).await.unwrap();
    let err = next.append(&lease, &put("d", 4)).await.unwrap_err();
    assert!(matches!(err, Error::CorruptState { .. }), "{err}");
    assert_eq!(fs::read(&journal).unwrap(), bytes);
}

#[tokio::test]
async fn lines_older_than_the_snapshot_are_skipped() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();
    backend.append(&lease, &put("b", 2)).await.unwrap();
    let journal = stage_dir(&root).join("journal.jsonl");
    let stale = fs::read(&journal).unwrap();

    // A commit interrupted after its rename, before it emptied the journal: the snapshot has
    // moved on (here `b` was removed since), the journal still holds the line for `b`.
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();
    fs::write(&journal, &stale).unwrap();

    let loaded = backend.load().await.unwrap().unwrap();
    assert_eq!((loaded.serial, ids(&loaded)), (2, vec!["a"]));

    // Lines appended after that apply on the new snapshot.
    let next = FileBackend::new(stage_dir(&root), "photos", "dev");
    backend.unlock(&lease).await.unwrap();
    let lease = next.lock(&owner("bob"), TTL).await.unwrap();
    next.append(&lease, &put("c", 3)).await.unwrap();
    assert_eq!(ids(&next.load().await.unwrap().unwrap()), ["a", "c"]);
}

#[tokio::test]
async fn a_journal_ahead_of_its_snapshot_is_corruption() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();
    let mut line = Vec::new();
    journal::encode(&mut line, 5, &put("b", 2)).unwrap();
    fs::write(stage_dir(&root).join("journal.jsonl"), &line).unwrap();

    let err = backend.load().await.unwrap_err();
    let Error::CorruptState { detail, .. } = &err else {
        panic!("expected CorruptState, got {err}");
    };
    assert!(
        detail.contains("applies on snapshot serial 5, but the snapshot has serial 1"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_truncated_or_malformed_snapshot_fails_clearly_and_is_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a", "b"]))
        .await
        .unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a", "b", "c"]))
        .await
        .unwrap();
    let dir = stage_dir(&root);
    let state = dir.join("state.json");
    let backup = dir.join("state.json.bak");
    let whole = fs::read(&state).unwrap();

    for damaged in [
        &whole[..whole.len() / 2],
        b"{\"version\":1,\"app\":\"photos\",,}".as_slice(),
    ] {
        fs::write(&state, damaged).unwrap();
        let before = files(&dir);
        let err = backend.load().await.unwrap_err();
        let Error::CorruptState {
            path,
            detail,
            backup: named_backup,
        } = &err
        else {
            panic!("expected CorruptState, got {err}");
        };
        assert_eq!((path, named_backup), (&state, &backup));
        assert!(detail.contains("line 1 column"), "{detail}");
        let message = err.to_string();
        assert!(message.contains(&state.display().to_string()), "{message}");
        assert!(message.contains(&backup.display().to_string()), "{message}");
        assert_eq!(files(&dir), before, "the files are unchanged");
        assert_eq!(fs::read(&state).unwrap(), damaged);
    }
    let kept: Snapshot = serde_json::from_slice(&fs::read(&backup).unwrap()).unwrap();
    assert_eq!(ids(&kept), ["a", "b"]);

    // The next holder writes nothing on top of a damaged snapshot either.
    backend.unlock(&lease).await.unwrap();
    let next = FileBackend::new(&dir, "photos", "dev");
    let lease = next.lock(&owner("bob"), TTL).await.unwrap();
    let err = next.append(&lease, &put("d", 4)).await.unwrap_err();
    assert!(matches!(err, Error::CorruptState { .. }), "{err}");
    let err = next
        .commit(&lease, &snapshot_with(&["d"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CorruptState { .. }), "{err}");
    assert_eq!(
        fs::read(&state).unwrap(),
        b"{\"version\":1,\"app\":\"photos\",,}"
    );
}

#[tokio::test]
async fn a_newer_format_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = stage_dir(&root);
    fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let backend = backend(&root);

    // Newer, and shaped differently; then newer but readable.
    let newer =
        json!({ "version": 2, "app": "photos", "stage": "dev", "serial": 4, "resources": [] });
    let readable =
        json!({ "version": 2, "app": "photos", "stage": "dev", "serial": 4, "resources": {} });
    for text in [newer, readable] {
        fs::write(&state, text.to_string()).unwrap();
        let err = backend.load().await.unwrap_err();
        let Error::StateTooNew {
            path,
            found,
            supported,
        } = &err
        else {
            panic!("expected StateTooNew, got {err}");
        };
        assert_eq!((path, *found, *supported), (&state, 2, FORMAT_VERSION));
        assert!(err.to_string().contains("upgrade Alchemy"), "{err}");
    }

    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    let err = backend.append(&lease, &put("a", 1)).await.unwrap_err();
    assert!(matches!(err, Error::StateTooNew { .. }), "{err}");
    let err = backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StateTooNew { .. }), "{err}");
}

#[tokio::test]
async fn the_state_of_another_app_or_stage_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();

    let other = FileBackend::new(stage_dir(&root), "photos", "prod");
    let err = other.load().await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(
        err.to_string()
            .contains("stage `dev`, not to app `photos` stage `prod`"),
        "{err}"
    );

    let err = backend
        .commit(&lease, &Snapshot::new("photos", "prod"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[tokio::test]
async fn a_commit_keeps_the_previous_snapshot_as_backup() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    let backup = stage_dir(&root).join("state.json.bak");
    backend
        .commit(&lease, &snapshot_with(&["a"]))
        .await
        .unwrap();
    assert!(!backup.exists(), "no backup before a second snapshot");

    let first = fs::read(stage_dir(&root).join("state.json")).unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a", "b"]))
        .await
        .unwrap();
    assert_eq!(fs::read(&backup).unwrap(), first);

    let second = fs::read(stage_dir(&root).join("state.json")).unwrap();
    backend
        .commit(&lease, &snapshot_with(&["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(fs::read(&backup).unwrap(), second);
    let kept: Snapshot = serde_json::from_slice(&second).unwrap();
    assert_eq!((kept.serial, ids(&kept)), (2, vec!["a", "b"]));
}

#[tokio::test]
async fn a_second_lock_fails_at_once_naming_the_holder() {
    let root = tempfile::tempdir().unwrap();
    let first = backend(&root);
    let lease = first.lock(&owner("alice"), TTL).await.unwrap();
    assert_eq!(lease.token, 1);

    let second = FileBackend::new(stage_dir(&root), "photos", "dev");
    let err = second.lock(&owner("bob"), TTL).await.unwrap_err();
    let Error::Locked {
        stage,
        owner: holder,
        token,
        expires_in_secs,
    } = &err
    else {
        panic!("expected Locked, got {err}");
    };
    assert_eq!(
        (stage.as_str(), holder.clone(), *token),
        ("dev", lease.owner.to_string(), 1)
    );
    assert!((1..=60).contains(expires_in_secs), "{expires_in_secs}");
    let message = err.to_string();
    assert!(message.contains("alice@"), "{message}");
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );

    // The same owner does not get a second lease either: a lease is held by one deploy.
    let err = first.lock(&owner("alice"), TTL).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");

    // The lock file tells a person who holds the stage.
    let text = fs::read_to_string(stage_dir(&root).join("lock.json")).unwrap();
    assert!(text.contains("\"alice\""), "{text}");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_a_larger_token_and_fenced_off() {
    let root = tempfile::tempdir().unwrap();
    let old = backend(&root);
    let stale = old.lock(&owner("alice"), Duration::ZERO).await.unwrap();
    // Expired but not yet taken over: its holder may still write and renew.
    old.append(&stale, &put("a", 1)).await.unwrap();
    let stale = old.renew(&stale, Duration::ZERO).await.unwrap();

    let new = FileBackend::new(stage_dir(&root), "photos", "dev");
    let lease = new.lock(&owner("bob"), TTL).await.unwrap();
    assert!(
        lease.token > stale.token,
        "{} > {}",
        lease.token,
        stale.token
    );

    let lost = |err: Error| match err {
        Error::LeaseLost { ours, current, .. } => (ours, current),
        err => panic!("expected LeaseLost, got {err}"),
    };
    let expected = (stale.token, lease.token);
    assert_eq!(
        lost(old.append(&stale, &put("b", 2)).await.unwrap_err()),
        expected
    );
    assert_eq!(
        lost(
            old.commit(&stale, &snapshot_with(&["x"]))
                .await
                .unwrap_err()
        ),
        expected
    );
    assert_eq!(lost(old.renew(&stale, TTL).await.unwrap_err()), expected);

    // The old holder giving its lease back leaves the new one in place.
    old.unlock(&stale).await.unwrap();
    let err = old.lock(&owner("carol"), TTL).await.unwrap_err();
    assert!(
        matches!(err, Error::Locked { token, .. } if token == lease.token),
        "{err}"
    );
    new.append(&lease, &put("c", 3)).await.unwrap();
    assert_eq!(ids(&new.load().await.unwrap().unwrap()), ["a", "c"]);
}

#[tokio::test]
async fn the_lease_of_a_dead_local_process_is_taken_over() {
    let root = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();

    let backend = backend(&root);
    let gone = LeaseOwner {
        pid: dead,
        ..owner("alice")
    };
    let stale = backend
        .lock(&gone, Duration::from_secs(3600))
        .await
        .unwrap();
    let lease = backend.lock(&owner("bob"), TTL).await.unwrap();
    assert!(lease.token > stale.token);
    assert_eq!(lease.owner.user, "bob");

    // A dead pid on another host says nothing: that lease stands until it expires.
    let remote = LeaseOwner {
        host: "elsewhere.invalid".into(),
        pid: dead,
        ..owner("carol")
    };
    backend.force_unlock().await.unwrap();
    backend
        .lock(&remote, Duration::from_secs(3600))
        .await
        .unwrap();
    let err = backend.lock(&owner("bob"), TTL).await.unwrap_err();
    assert!(err.to_string().contains("carol@elsewhere.invalid"), "{err}");
}

#[tokio::test]
async fn renewing_extends_the_lease_and_keeps_the_token() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend
        .lock(&owner("alice"), Duration::from_secs(1))
        .await
        .unwrap();
    let renewed = backend
        .renew(&lease, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        (renewed.token, &renewed.owner, renewed.acquired_at_ms),
        (lease.token, &lease.owner, lease.acquired_at_ms)
    );
    assert!(renewed.expires_at_ms >= lease.acquired_at_ms + 3_600_000);
    backend.append(&renewed, &put("a", 1)).await.unwrap();
    backend
        .commit(&renewed, &snapshot_with(&["a"]))
        .await
        .unwrap();
}

#[tokio::test]
async fn tokens_keep_growing_across_unlocks() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
        tokens.push(lease.token);
        backend.unlock(&lease).await.unwrap();
    }
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    tokens.push(lease.token);
    backend.force_unlock().await.unwrap();
    let after_force = backend.lock(&owner("bob"), TTL).await.unwrap();
    tokens.push(after_force.token);
    assert_eq!(tokens, [1, 2, 3, 4, 5]);

    // A lease given back or removed writes nothing more.
    backend.force_unlock().await.unwrap();
    let err = backend
        .append(&after_force, &put("a", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LeaseLost {
                ours: 5,
                current: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreadable_lock_file_is_reported_and_cleared_by_force_unlock() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    let lock = stage_dir(&root).join("lock.json");
    fs::write(&lock, b"{\"last_tok").unwrap();

    let err = backend.lock(&owner("bob"), TTL).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("lock.json") && message.contains("state unlock"),
        "{message}"
    );

    backend.force_unlock().await.unwrap();
    let next = backend.lock(&owner("bob"), TTL).await.unwrap();
    assert!(next.token > lease.token);
}

#[test]
fn of_eight_threads_racing_for_the_lock_exactly_one_wins() {
    let root = tempfile::tempdir().unwrap();
    let barrier = Barrier::new(8);
    let results: Vec<Result<Lease>> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let (root, barrier) = (&root, &barrier);
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let backend = backend(root);
                    barrier.wait();
                    runtime.block_on(backend.lock(&owner(&format!("racer-{i}")), TTL))
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().unwrap())
            .collect()
    });

    let winners: Vec<&Lease> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0];
    assert_eq!(winner.token, 1);
    for result in &results {
        match result {
            Ok(_) => {}
            Err(Error::Locked { owner, token, .. }) => {
                assert_eq!(
                    (owner.clone(), *token),
                    (winner.owner.to_string(), winner.token)
                );
            }
            Err(err) => panic!("expected Locked, got {err}"),
        }
    }
}

#[tokio::test]
async fn bytes_per_append_do_not_grow_with_the_state() {
    let root = tempfile::tempdir().unwrap();
    let small = FileBackend::new(root.path().join("small"), "photos", "dev");
    let large = FileBackend::new(root.path().join("large"), "photos", "dev");
    let names: Vec<String> = (0..10_000).map(|n| format!("r{n}")).collect();
    let many: Vec<&str> = names.iter().map(String::as_str).collect();
    for (backend, ids) in [(&small, &["r0"][..]), (&large, &many[..])] {
        let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
        backend.commit(&lease, &snapshot_with(ids)).await.unwrap();
        backend.append(&lease, &put("new", 1)).await.unwrap();
        backend
            .append(&lease, &JournalEntry::Remove { id: "r0".into() })
            .await
            .unwrap();
    }
    let small_journal = fs::read(root.path().join("small/journal.jsonl")).unwrap();
    let large_journal = fs::read(root.path().join("large/journal.jsonl")).unwrap();
    assert_eq!(small_journal, large_journal);
    assert!(small_journal.len() < 600, "{}", small_journal.len());
    assert_eq!(large.load().await.unwrap().unwrap().resources.len(), 10_000);
}

#[tokio::test]
async fn twenty_thousand_appends_replay_in_order() {
    let root = tempfile::tempdir().unwrap();
    let backend = backend(&root);
    let lease = backend.lock(&owner("alice"), TTL).await.unwrap();
    for n in 0..20_000 {
        let entry = if n % 4 == 3 {
            JournalEntry::Remove {
                id: format!("r{}", n - 1),
            }
        } else {
            JournalEntry::Put {
                id: format!("r{n}"),
                record: record(n),
            }
        };
        backend.append(&lease, &entry).await.unwrap();
    }
    let loaded = backend.load().await.unwrap().unwrap();
    assert_eq!(loaded.resources.len(), 10_000);
    assert_eq!(loaded.resources["r19996"], record(19_996));
    assert!(!loaded.resources.contains_key("r19998"));
}

#[tokio::test]
async fn passes_the_state_backend_suite() {
    let root = tempfile::tempdir().unwrap();
    crate::state::conformance::run_all("file", |stage| {
        FileBackend::new(root.path().join(stage), "app", stage)
    })
    .await;
}
