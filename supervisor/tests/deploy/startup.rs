//! Each service's start-up failure as a log collector sees it: with `LOG_FORMAT=json`, an unusable setting is
//! one JSON log line naming it, and the exit code (2: configuration) tells the supervisor not to retry blindly.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn service(name: &str) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_veloera")).parent().unwrap().join(name);
    assert!(bin.is_file(), "{} is missing: run `cargo build -p control-svc -p relay-svc`", bin.display());
    let mut command = Command::new(bin);
    command.env_clear().env("LOG_FORMAT", "json");
    command
}

/// The JSON log lines of `output`'s stdout and stderr.
fn log_lines(output: &std::process::Output) -> Vec<Value> {
    [&output.stdout, &output.stderr]
        .into_iter()
        .flat_map(|bytes| String::from_utf8_lossy(bytes).lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

#[test]
fn an_unusable_setting_is_one_json_error_line_and_exit_code_2() {
    for (name, variable) in [("control-svc", "METRICS_ADDR"), ("relay-svc", "METRICS_ADDR")] {
        let output = service(name).env(variable, "not an address").output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        let lines = log_lines(&output);
        let error = lines
            .iter()
            .find(|l| l["level"] == "ERROR")
            .unwrap_or_else(|| panic!("{name} logged no JSON error line: {output:?}"));
        assert_eq!(error["fields"]["message"], "configuration error", "{error}");
        assert!(error["fields"]["error"].as_str().unwrap().contains(variable), "{name} names {variable}: {error}");
    }
}

#[test]
fn an_unknown_log_format_is_refused_on_stderr() {
    let output = service("relay-svc").env("LOG_FORMAT", "yaml").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("LOG_FORMAT"), "{output:?}");
}
