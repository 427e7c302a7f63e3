//! A real multi-process Ballista cluster: `clearsight scheduler` and two `clearsight executor`
//! processes on 127.0.0.1, started and stopped by the test. The mart built on it equals the local
//! engine's row for row; an unreachable scheduler and executors that die mid-build are errors
//! naming the scheduler (exit 6) and publish nothing.
#![cfg(feature = "ballista")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    assert_ok, assert_same_marts, free_port, published_marts, wait_for_port, Processes, TestProject,
};

fn clearsight(project: &TestProject, args: &[&str]) -> Command {
    let mut cmd = crate::support::bin_in(project.path());
    cmd.args(args);
    cmd
}

fn spawn_quiet(mut cmd: Command) -> std::process::Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A scheduler on 127.0.0.1 that forgets an executor 3 s after its last heartbeat, started and
/// listening; returns its `df://` address.
fn start_scheduler(project: &TestProject, processes: &mut Processes) -> String {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    processes.0.push(spawn_quiet(clearsight(
        project,
        &["scheduler", "--bind", &bind, "--executor-timeout", "3"],
    )));
    assert!(wait_for_port(port, 30), "the scheduler did not start");
    format!("df://127.0.0.1:{port}")
}

/// A scheduler and two executors serving `project`'s warehouse; returns its `df://` address.
fn start_cluster(project: &TestProject, processes: &mut Processes) -> String {
    let scheduler = start_scheduler(project, processes);
    for _ in 0..2 {
        processes
            .0
            .push(spawn_quiet(executor(project, &scheduler).0));
    }
    scheduler
}

/// `clearsight executor` registering with `scheduler`, its temp folder inside the project (the
/// processes are killed); returns the command and its flight port.
fn executor(project: &TestProject, scheduler: &str) -> (Command, u16) {
    let (flight, grpc) = (free_port(), free_port().to_string());
    let mut cmd = clearsight(
        project,
        &[
            "executor",
            "--scheduler",
            scheduler,
            "--bind-host",
            "127.0.0.1",
            "--port",
            &flight.to_string(),
            "--grpc-port",
            &grpc,
            "--heartbeat",
            "1",
        ],
    );
    let tmp = project.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    cmd.env("TMPDIR", tmp);
    (cmd, flight)
}

fn executor_work_folders(project: &TestProject) -> Vec<String> {
    std::fs::read_dir(project.path().join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("clearsight-executor-"))
        .collect()
}

fn published_run(project: &TestProject) -> String {
    let pointer = project.path().join("warehouse/_published.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pointer).unwrap()).unwrap();
    json["run_id"].as_str().unwrap().to_string()
}

/// Nodes finished by the build other than `previous_run` (run_results.json is rewritten as nodes
/// finish).
fn finished_nodes(warehouse: &Path, previous_run: &str) -> usize {
    std::fs::read_to_string(warehouse.join("run_results.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter(|json| json["run_id"].as_str() != Some(previous_run))
        .and_then(|json| json["nodes"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mart_on_a_scheduler_and_two_executor_processes_equals_local() {
    let local = TestProject::demo_generated(3_000);
    assert_ok(
        &clearsight(&local, &["build"]).output().unwrap(),
        "local build",
    );

    let remote = TestProject::demo_generated(3_000);
    let mut processes = Processes::default();
    let scheduler = start_cluster(&remote, &mut processes);
    let build = [
        "build",
        "--engine",
        "ballista",
        "--scheduler",
        scheduler.as_str(),
    ];
    assert_ok(
        &clearsight(&remote, &build).output().unwrap(),
        "cluster build",
    );
    assert_same_marts(
        &published_marts(&local).await,
        &published_marts(&remote).await,
    );
    let first_run = published_run(&remote);

    // Executors killed in the middle of a build: an engine error naming the scheduler, and the
    // previous mart is still the published one.
    let child = clearsight(&remote, &[&build[..], &["--full-refresh"]].concat())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished_nodes(&remote.path().join("warehouse"), &first_run) < 3 {
        assert!(Instant::now() < deadline, "the build did not get going");
        std::thread::sleep(Duration::from_millis(20));
    }
    for executor in &mut processes.0[1..] {
        executor.kill().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains(&scheduler), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert_eq!(published_run(&remote), first_run);
    assert_same_marts(
        &published_marts(&local).await,
        &published_marts(&remote).await,
    );
}

#[test]
fn unreachable_scheduler_is_an_engine_error_naming_it() {
    let project = TestProject::demo_generated(3_000);
    let scheduler = format!("df://127.0.0.1:{}", free_port());
    let out = clearsight(
        &project,
        &["build", "--engine", "ballista", "--scheduler", &scheduler],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(&scheduler) && stderr.contains("cannot reach"),
        "{stderr}"
    );
    assert!(
        !project.path().join("warehouse/raw").exists(),
        "nothing was loaded"
    );
}

#[test]
fn engine_ballista_without_a_scheduler_is_a_usage_error() {
    let project = TestProject::demo();
    let out = clearsight(&project, &["run", "--engine", "ballista"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--scheduler df://HOST:PORT"), "{stderr}");
}

#[test]
fn engine_comes_from_config_then_environment_then_flags() {
    let (from_config, from_env) = (free_port(), free_port());
    let yaml = std::fs::read_to_string(crate::support::repo().join("config/sources.yaml"))
        .unwrap()
        .replace(
            "warehouse: warehouse\n",
            &format!(
                "warehouse: warehouse\nengine: {{kind: ballista, scheduler: df://127.0.0.1:{from_config}}}\n"
            ),
        );
    let project = TestProject::new(&yaml);
    let stderr = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = stderr(&mut clearsight(&project, &["run"]));
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains(&format!("df://127.0.0.1:{from_config}")),
        "{err}"
    );

    let env_scheduler = format!("df://127.0.0.1:{from_env}");
    let (code, err) =
        stderr(clearsight(&project, &["run"]).env("CLEARSIGHT_SCHEDULER", &env_scheduler));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains(&env_scheduler), "{err}");

    let (code, err) = stderr(&mut clearsight(&project, &["run", "--engine", "local"]));
    assert_ne!(code, Some(6), "the local engine needs no scheduler: {err}");
}

/// Ballista's default work folder is a temp folder it never removes: each executor left one
/// behind. Without --work-dir the executor now has its own, removed when it stops (SIGTERM).
#[test]
fn an_executor_stopped_by_sigterm_removes_its_temp_work_folder() {
    let project = TestProject::demo();
    let mut processes = Processes::default();
    let scheduler = start_scheduler(&project, &mut processes);
    let (mut cmd, flight) = executor(&project, &scheduler);
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_port(flight, 30), "the executor did not start");
    assert_eq!(executor_work_folders(&project).len(), 1);

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        executor_work_folders(&project),
        Vec::<String>::new(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster test once hung: Ballista fails the jobs running when the last executor goes, but
/// the run's next model was submitted to an empty cluster and waited for an executor forever.
/// Now the run stops with exit 6 once the scheduler has listed no executor for 10 s.
#[test]
fn a_run_whose_executors_are_all_gone_stops_with_exit_6_instead_of_waiting() {
    let project = TestProject::demo_generated(3_000);
    assert_ok(&clearsight(&project, &["load"]).output().unwrap(), "load");
    let mut processes = Processes::default();
    let scheduler = start_scheduler(&project, &mut processes);
    let (cmd, flight) = executor(&project, &scheduler);
    let mut executor = spawn_quiet(cmd);
    assert!(wait_for_port(flight, 30), "the executor did not start");
    std::thread::sleep(Duration::from_secs(2)); // registered by its first heartbeat
    executor.kill().unwrap();
    executor.wait().unwrap();

    // The scheduler still lists the dead executor for up to 3 s, so the run starts.
    let mut run = clearsight(
        &project,
        &["run", "--engine", "ballista", "--scheduler", &scheduler],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while run.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            run.kill().unwrap();
            panic!("the run waited for an executor for two minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains(&scheduler), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    assert!(!project.path().join("warehouse/_published.json").exists());
}
