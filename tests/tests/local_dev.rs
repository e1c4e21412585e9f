//! `bridge dev --example` and `bridge put-event --local`, driven through the real binary.

use crate::support;

use std::process::{Command, Stdio};

use infra::local::{QueueSpec, ReceiveRequest, RuleSpec, RuleState, Store, TargetSpec};
use serde_json::Value;
use support::moto::text;
use support::{bridge_bin, repo_root};

fn run(args: &[&str], cwd: &std::path::Path, stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(bridge_bin());
    cmd.args(args).current_dir(cwd);
    let out = if let Some(input) = stdin {
        use std::io::Write;
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn bridge");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("bridge output")
    } else {
        cmd.output().expect("run bridge")
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dev_example_shows_events_flowing_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    let (code, out, err) = run(
        &["dev", "--example", "--once", "--local", state_arg],
        &repo_root(),
        None,
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for expected in [
        "+ create rule png-uploads",
        "~ bucket raw-data: notification settings",
        "rule default/png-uploads → sqs:example-events  delivered",
        // The S3 `Id` of the stack's notification, as on AWS.
        "bucket raw-data notification bridge:bridge-example:uploads → sqs:raw-data-uploads  delivered",
        "rule default/deletions → sqs:example-events  delivered",
        "rule default/quilt-package-revision → sns:package-alerts  delivered",
        "rule default/quilt-package-revision → sqs:example-events  delivered",
        "topic sns:package-alerts → data-team@example.com  written to outbox/",
        "example-events: 4 available",
        // S3's test event when the configuration was saved, then the two uploads.
        "raw-data-uploads: 3 available",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let position = |needle: &str| out.find(needle).unwrap_or(usize::MAX);
    assert!(
        position("rule default/quilt-package-revision → sns:package-alerts")
            < position("topic sns:package-alerts → data-team@example.com"),
        "a delivery is listed before the fan-out it causes:\n{out}"
    );
    let emails: Vec<_> = std::fs::read_dir(state.join("outbox"))
        .expect("outbox")
        .collect();
    assert_eq!(emails.len(), 1);

    // The queued events are EventBridge-shaped and consumable with SQS semantics.
    let mut s = Store::open(&state).expect("open state");
    let got = s
        .receive_messages("example-events", ReceiveRequest::default())
        .expect("receive");
    let kinds: Vec<String> = got
        .iter()
        .map(|m| {
            let e: Value = serde_json::from_str(&m.body).expect("event");
            format!(
                "{}|{}",
                e["source"].as_str().unwrap_or(""),
                e["detail-type"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "aws.s3|Object Created",
            "aws.s3|Object Created",
            "aws.s3|Object Deleted",
            "com.quiltdata|package-revision"
        ]
    );
    drop(s);

    // Second run: nothing to apply, and earlier files are not re-announced.
    let (code, out, _) = run(
        &["dev", "--example", "--once", "--local", state_arg],
        &repo_root(),
        None,
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("(local state already matches the project)"),
        "{out}"
    );
    assert_eq!(
        out.matches("rule default/png-uploads → sqs:example-events")
            .count(),
        2,
        "only this run's two uploads:\n{out}"
    );
}

#[test]
fn dev_picks_up_events_put_from_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    let (code, out, err) = run(
        &["dev", "--example", "--once", "--local", state_arg],
        &repo_root(),
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let mut child = Command::new(bridge_bin())
        .args([
            "dev",
            "--project",
            "examples",
            "--for",
            "6",
            "--interval-ms",
            "50",
            "--local",
            state_arg,
        ])
        .current_dir(repo_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn dev");
    // Wait until dev is watching (it prints the routing header), then send from outside.
    let stdout = child.stdout.take().expect("dev stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("dev prints its routing header");
        if line.starts_with("routing (rule → target):") {
            break;
        }
    }
    let detail = r#"{"type": "created", "handle": "analytics/from-outside", "bucket": "b", "topHash": "abc"}"#;
    let (code, ids, err) = run(
        &[
            "put-event",
            "--local",
            state_arg,
            "--source",
            "com.quiltdata",
            "--detail-type",
            "package-revision",
            "--detail",
            detail,
        ],
        dir.path(),
        None,
    );
    assert_eq!(code, 0, "{err}");
    let id = ids.trim().to_string();
    child.wait().expect("dev exits after --for");
    let out = reader.join().expect("reader thread");
    assert!(
        out.lines().any(
            |l| l.contains("rule default/quilt-package-revision → sqs:example-events")
                && l.contains(&id)
        ),
        "dev did not print event {id}:\n{out}"
    );
}

/// `bridge dev` watches the bucket directories: a file created and deleted at once (which a
/// scan every 250 ms would almost never see) becomes Object Created then Object Deleted, as
/// on S3. With `--poll`, the same quick change goes unseen (checked with a `--once` run, the
/// poll's one scan, so that no timing is involved).
#[test]
fn dev_sees_a_file_created_and_deleted_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    let (code, out, err) = run(
        &[
            "dev",
            "--project",
            "examples",
            "--once",
            "--local",
            state_arg,
        ],
        &repo_root(),
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let uploads = state.join("buckets/raw-data/uploads");
    std::fs::create_dir_all(&uploads).expect("uploads dir");
    // Polling: created and deleted before the scan, nothing to see.
    std::fs::write(uploads.join("polled.png"), "png").expect("write");
    std::fs::remove_file(uploads.join("polled.png")).expect("rm");
    let (code, out, err) = run(
        &[
            "dev",
            "--project",
            "examples",
            "--once",
            "--poll",
            "--local",
            state_arg,
        ],
        &repo_root(),
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("png-uploads →"), "{out}");

    let mut child = Command::new(bridge_bin())
        .args(["dev", "--project", "examples", "--local", state_arg])
        .current_dir(repo_root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn dev");
    let stdout = child.stdout.take().expect("dev stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str| -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("dev never printed {what:?}; it printed {seen:#?}"));
            let done = line.contains(what);
            seen.push(line);
            if done {
                return seen;
            }
        }
    };
    wait_for("watching the bucket directories");
    std::fs::write(uploads.join("quick.png"), "\u{89}PNG quick").expect("write");
    std::fs::remove_file(uploads.join("quick.png")).expect("rm");
    wait_for("rule default/png-uploads → sqs:example-events  delivered");
    wait_for("rule default/deletions → sqs:example-events  delivered");
    child.kill().expect("stop dev");
    child.wait().expect("dev ends");

    let mut s = Store::open(&state).expect("open state");
    let got = s
        .receive_messages(
            "example-events",
            ReceiveRequest {
                max_messages: 10,
                ..ReceiveRequest::default()
            },
        )
        .expect("receive");
    let quick: Vec<String> = got
        .iter()
        .map(|m| serde_json::from_str::<Value>(&m.body).expect("event"))
        .filter(|e| e["detail"]["object"]["key"] == "uploads/quick.png")
        .map(|e| e["detail-type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(quick, ["Object Created", "Object Deleted"]);
}

#[test]
fn put_event_local_reports_per_entry_failures_and_reads_jsonl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    {
        let mut s = Store::open(&state).expect("open");
        let q = s.put_queue(&QueueSpec::new("orders")).expect("queue");
        s.put_rule(&RuleSpec {
            bus: "default".into(),
            name: "orders".into(),
            pattern: Some(
                r#"{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}"#.into(),
            ),
            schedule: None,
            state: RuleState::Enabled,
            description: None,
        })
        .expect("rule");
        s.put_targets("default", "orders", &[TargetSpec::new("q", q)])
            .expect("targets");
    }
    let lines = [
        r#"{"Source": "shop", "DetailType": "order", "Detail": "{\"total\": 250}"}"#,
        r#"{"source": "shop", "detail-type": "order", "detail": {"total": 5}}"#,
        r#"{"Source": "shop", "DetailType": "order", "Detail": "not json"}"#,
    ]
    .join("\n");
    let state_arg = state.to_str().expect("utf-8 path");
    let (code, out, err) = run(
        &["put-event", "--local", state_arg, "--file", "-"],
        dir.path(),
        Some(&lines),
    );
    assert_eq!(code, 1, "one entry failed: {err}");
    assert_eq!(out.lines().count(), 2, "two ids printed: {out}");
    assert!(
        err.contains("standard input line 3: MalformedDetail: Detail is malformed."),
        "{err}"
    );
    assert!(
        err.contains("default/orders → arn:aws:sqs:us-east-1:000000000000:orders (delivered)"),
        "{err}"
    );

    let mut s = Store::open(&state).expect("open");
    let got = s
        .receive_messages("orders", ReceiveRequest::default())
        .expect("receive");
    assert_eq!(got.len(), 1, "only total > 100 matches");
    let event: Value = serde_json::from_str(&got[0].body).expect("event");
    assert_eq!(event["id"], out.lines().next().expect("first id"));
    assert_eq!(event["detail"]["total"], 250);

    let (code, _, err) = run(
        &["put-event", "--local", state_arg, "--file", "-"],
        dir.path(),
        Some("{oops\n"),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("standard input line 1: not valid JSON"),
        "{err}"
    );
}

#[test]
fn dev_reports_project_problems_with_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bridge.json"),
        r#"{"stack": "s", "queues": [{"name": "q", "visibilty_timeout": 5}]}"#,
    )
    .expect("write project");
    let state = dir.path().join("state");
    let (code, out, err) = run(
        &[
            "dev",
            "--once",
            "--project",
            ".",
            "--local",
            state.to_str().expect("utf-8"),
        ],
        dir.path(),
        None,
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("bridge.json"), "names the file: {err}");
    assert!(
        err.contains("visibilty_timeout"),
        "names the bad field: {err}"
    );
}

#[test]
fn plan_and_apply_local_sync_the_example_project_and_converge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    let examples = repo_root().join("examples");
    let project = examples.to_str().expect("utf-8 path");
    let plan = [
        "plan",
        "--project",
        project,
        "--detailed-exitcode",
        "--local",
        state_arg,
    ];
    let (code, out, err) = run(&plan, dir.path(), None);
    assert_eq!(code, 2, "changes planned\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("+ create rule png-uploads"), "{out}");
    // Planning writes nothing, not even an empty state directory.
    assert!(!state.exists(), "plan --local created {}", state.display());
    let apply = ["apply", "--project", project, "--local", state_arg];
    let (code, out, err) = run(&apply, dir.path(), None);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("+ create queue example-events"), "{out}");
    let mut s = Store::open(&state).expect("open state");
    let rules: Vec<String> = s
        .list_rules(None)
        .expect("rules")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(
        rules.contains(&"quilt-package-revision".to_string()),
        "{rules:?}"
    );
    drop(s);
    let (code, out, err) = run(&plan, dir.path(), None);
    assert_eq!(code, 0, "converged\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn tail_local_shows_matching_events_and_removes_its_rule_and_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    std::fs::write(
        dir.path().join("pattern.json"),
        r#"{"source": ["com.quiltdata"], "detail": {"handle": [{"prefix": "analytics/"}]}}"#,
    )
    .expect("write pattern");
    let child = Command::new(bridge_bin())
        .args(["tail", "--local", state_arg, "--pattern", "pattern.json"])
        .args(["--normalize", "--max-events", "1"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn bridge tail");
    // Ready once its rule exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let name = loop {
        if state.join("state.sqlite3").exists() {
            let mut s = Store::open(&state).expect("open state");
            if let Some(r) = s.list_rules(Some("default")).expect("rules").pop() {
                break r.name;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tail never created its rule"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(name.starts_with("bridge-tail-"), "{name}");
    let put = |handle: &str| {
        let detail = format!(
            r#"{{"type": "package-revision", "bucket": "b", "handle": "{handle}", "topHash": "h"}}"#
        );
        let (code, out, err) = run(
            &[
                "put-event",
                "--local",
                state_arg,
                "--source",
                "com.quiltdata",
                "--detail-type",
                "package-revision",
                "--detail",
                &detail,
            ],
            dir.path(),
            None,
        );
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    };
    put("marketing/a");
    put("analytics/b");
    let out = child.wait_with_output().expect("tail output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 1, "{stdout}");
    assert_eq!(events[0]["kind"], "package_revision", "{stdout}");
    assert_eq!(events[0]["package"]["handle"], "analytics/b", "{stdout}");
    assert!(
        stdout.contains("analytics/b") && !stdout.contains("marketing/a"),
        "{stdout}"
    );
    let mut s = Store::open(&state).expect("open state");
    assert!(s.list_rules(None).expect("rules").is_empty(), "{stderr}");
    assert!(
        !s.list_queues()
            .expect("queues")
            .iter()
            .any(|q| q.name == name),
        "{stderr}"
    );
}

#[test]
fn a_project_with_backend_local_plans_applies_and_destroys_locally_without_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("rules")).expect("mkdir");
    std::fs::write(
        project.join("bridge.json"),
        r#"{"stack": "local-only", "backend": "local", "local_state_dir": "state",
            "queues": [{"name": "jobs"}]}"#,
    )
    .expect("write bridge.json");
    std::fs::write(
        project.join("rules/jobs.json"),
        r#"{"event_pattern": {"source": ["jobs"]}, "targets": [{"id": "q", "queue": "jobs"}]}"#,
    )
    .expect("write rule");
    let p = project.to_str().expect("utf-8 path");
    // Run from elsewhere: the state directory is relative to bridge.json, not the cwd.
    let (code, out, err) = run(&["apply", "--project", p], dir.path(), None);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("+ create rule jobs"), "{out}");
    let state = project.join("state");
    let mut s = Store::open(&state).expect("open state");
    assert_eq!(s.list_rules(None).expect("rules").len(), 1);
    drop(s);
    let (code, out, err) = run(
        &["plan", "--project", p, "--detailed-exitcode"],
        dir.path(),
        None,
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("No changes"), "{out}");

    // --aws overrides the project's backend (and so needs an AWS region).
    let mut cmd = Command::new(bridge_bin());
    let out = cmd
        .args(["plan", "--project", p, "--aws"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run bridge");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no AWS region configured"), "{err}");

    // Destroy asks without a terminal, then removes the state with --yes.
    let (code, _, err) = run(&["destroy", "--project", p], dir.path(), None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert!(state.join("state.sqlite3").exists());
    let (code, out, err) = run(&["destroy", "--project", p, "--yes"], dir.path(), None);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!state.join("state.sqlite3").exists(), "{out}");
}

#[test]
fn a_bare_local_flag_works_on_every_command_that_takes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = repo_root().join("examples");
    let p = project.to_str().expect("utf-8 path");
    for args in [
        vec!["plan", "--project", p, "--local"],
        vec!["destroy", "--project", p, "--local", "--yes"],
        vec![
            "put-event",
            "--local",
            "--source",
            "s",
            "--detail-type",
            "t",
            "--detail",
            "{}",
        ],
        vec![
            "consume",
            "--local",
            "--queue",
            "q",
            "--jsonl",
            "--max-messages",
            "1",
        ],
        vec!["tail", "--local", "--rule", "r"],
    ] {
        let out = Command::new(bridge_bin())
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run bridge");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("a value is required"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            !err.contains("unexpected argument"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn plan_json_completions_and_color_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = repo_root().join("examples");
    let p = project.to_str().expect("utf-8 path");
    let state = dir.path().join("state");
    let s = state.to_str().expect("utf-8 path");
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = Command::new(bridge_bin());
        cmd.args(args).current_dir(dir.path()).stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run bridge")
    };

    let out = run(&["plan", "--project", p, "--local", s, "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let document: Value = serde_json::from_slice(&out.stdout).expect("plan --json is JSON only");
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["backend"], "local");
    let steps = document["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|st| st["kind"] == "rule"), "{document}");
    assert_eq!(
        document["summary"]["add"].as_u64().unwrap_or(0) as usize
            + document["summary"]["change"].as_u64().unwrap_or(0) as usize,
        steps.len()
    );

    let out = run(&["completions", "bash"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("--local") && script.contains("put-event"),
        "{script}"
    );

    // Not a terminal: no colour by default; --color always wins over NO_COLOR (no-color.org).
    let plan = ["plan", "--project", p, "--local", s];
    let out = run(&plan, &[]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\x1b'),
        "{}",
        text(&out)
    );
    let mut coloured = plan.to_vec();
    coloured.extend(["--color", "always"]);
    let out = run(&coloured, &[("NO_COLOR", "1")]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\x1b[32m"),
        "{}",
        text(&out)
    );
}

#[test]
fn one_dev_per_state_directory_and_destroy_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8 path");
    let mut child = Command::new(bridge_bin())
        .args([
            "dev",
            "--project",
            "examples",
            "--for",
            "120",
            "--local",
            state_arg,
        ])
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dev");
    let stdout = child.stdout.take().expect("dev stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let watching = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("routing (rule → target):"));
    let pid = child.id();
    let second = run(
        &[
            "dev",
            "--project",
            "examples",
            "--once",
            "--local",
            state_arg,
        ],
        &repo_root(),
        None,
    );
    let destroy = run(
        &["destroy", "--local", state_arg, "--yes"],
        dir.path(),
        None,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(watching, "the first dev started");

    let (code, out, err) = second;
    assert_ne!(
        code, 0,
        "a second dev on the same state must fail: {out}{err}"
    );
    assert!(
        err.contains(&format!("is in use by `bridge dev` (pid {pid})")),
        "{err}"
    );
    let (code, out, err) = destroy;
    assert_ne!(code, 0, "destroy while dev runs must fail: {out}{err}");
    assert!(err.contains(&format!("(pid {pid})")), "{err}");
    assert!(
        state.join(infra::local::DATABASE_FILE).is_file(),
        "the state is still there"
    );

    // Once dev is gone, the lock is free again.
    let (code, out, err) = run(
        &["destroy", "--local", state_arg, "--yes"],
        dir.path(),
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!state.join(infra::local::DATABASE_FILE).exists());
}

#[test]
fn put_event_local_into_a_directory_without_state_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("nothing-here");
    let state_arg = state.to_str().expect("utf-8 path");
    let (code, out, err) = run(
        &[
            "put-event",
            "--local",
            state_arg,
            "--source",
            "s",
            "--detail-type",
            "t",
            "--detail",
            "{}",
        ],
        dir.path(),
        None,
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!(
            "no local state in {state_arg}: run `bridge apply --local` or `bridge dev` first"
        )),
        "{err}"
    );
    assert!(
        !state.join(infra::local::DATABASE_FILE).exists(),
        "no empty state is made"
    );
}

#[test]
fn apply_json_reports_each_step_done_and_a_second_apply_does_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = repo_root().join("examples");
    let state = dir.path().join("state");
    let apply = |label: &str| {
        let out = Command::new(bridge_bin())
            .args(["apply", "--json", "--project"])
            .arg(&project)
            .arg("--local")
            .arg(&state)
            .stdin(Stdio::null())
            .output()
            .expect("run bridge");
        assert!(out.status.success(), "{label}: {}", text(&out));
        let document: Value =
            serde_json::from_slice(&out.stdout).expect("apply --json prints JSON only");
        document
    };
    let first = apply("first");
    assert_eq!(first["succeeded"], true);
    let steps = first["plan"]["steps"].as_array().expect("steps").len();
    assert!(steps >= 10, "{first}");
    assert_eq!(first["done"].as_array().expect("done").len(), steps);
    let second = apply("second");
    assert_eq!(
        second["plan"]["steps"].as_array().expect("steps").len(),
        0,
        "{second}"
    );
    assert_eq!(second["done"].as_array().expect("done").len(), 0);
}
