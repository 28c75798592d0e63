//! A repository pushed as it is must be a valid Hugging Face Space: the README opens with the Space's front
//! matter (`sdk: docker`, `app_port`), and the Dockerfile serves that port with the seed's defaults, each of
//! which one of our services actually reads.

use std::path::PathBuf;

use crate::dockerfile::{self, Instruction};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The README's front matter, parsed, and the text after it.
fn front_matter() -> (serde_json::Value, String) {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let rest = readme.strip_prefix("---\n").expect("README.md starts with the `---` of a front matter");
    let (yaml, body) = rest.split_once("\n---\n").expect("the front matter ends with `---`");
    (serde_yaml_ng::from_str(yaml).expect("the front matter is YAML"), body.to_string())
}

#[test]
fn the_readme_opens_with_the_space_front_matter_and_a_bilingual_page() {
    let (meta, body) = front_matter();
    for key in ["title", "emoji", "colorFrom", "colorTo", "sdk", "pinned", "license", "app_port"] {
        assert!(!meta[key].is_null(), "front matter lacks {key}");
    }
    assert_eq!(meta["sdk"], "docker");
    assert_eq!(meta["app_port"], 7860);
    assert!(meta["pinned"].is_boolean());
    // The colours a Space card may use.
    let colours = ["red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"];
    for key in ["colorFrom", "colorTo"] {
        assert!(colours.contains(&meta[key].as_str().unwrap()), "{key} is not a Space colour");
    }
    let intro = &body[..body.find("\n# ").expect("the rest of the README follows the intro")];
    for must in ["中文", "English", "/v1/", "/hf/v1/", "root", "123456", "/data", "GENERATE_DEFAULT_TOKEN"] {
        assert!(intro.contains(must), "the Space page's intro says nothing of {must}");
    }
}

fn runtime() -> (String, Vec<Instruction>) {
    let text = std::fs::read_to_string(dockerfile::path()).unwrap();
    let stage = dockerfile::final_stage(&text);
    (text, stage)
}

#[test]
fn the_dockerfile_serves_the_space_port_as_uid_1000_with_the_seed_defaults() {
    let (meta, _) = front_matter();
    let port = meta["app_port"].as_u64().unwrap().to_string();
    let (text, stage) = runtime();
    let one = |keyword: &str| -> Vec<&Instruction> { stage.iter().filter(|i| i.keyword == keyword).collect() };

    assert!(dockerfile::instructions(&text).iter().filter(|i| i.keyword == "FROM").count() >= 2, "multi-stage");
    assert_eq!(one("FROM")[0].args, "debian:bookworm-slim");
    assert!(one("EXPOSE").iter().any(|i| i.args.split_whitespace().any(|p| p == port)), "EXPOSE {port}");
    assert_eq!(one("USER").last().unwrap().args, "1000");
    for (name, value) in [
        ("PORT", port.as_str()),
        ("SQL_DSN", "sqlite:///app/data/veloera.db"),
        ("MEMORY_CACHE_ENABLED", "true"),
        ("GENERATE_DEFAULT_TOKEN", "true"),
    ] {
        assert_eq!(dockerfile::env_value(&text, name).as_deref(), Some(value), "ENV {name}");
    }
    let healthcheck = &one("HEALTHCHECK")[0].args;
    let probe = &healthcheck[healthcheck.find("CMD").expect("HEALTHCHECK ... CMD") + 3..];
    assert_eq!(dockerfile::exec_form(probe.trim()), ["veloera", "healthcheck"], "probes /readyz");
    assert_eq!(dockerfile::exec_form(&one("CMD").last().unwrap().args), ["veloera"], "the launcher runs it all");

    let build: Vec<Instruction> =
        dockerfile::instructions(&text).into_iter().take_while(|i| i.args != stage[0].args).collect();
    let runs = build.iter().filter(|i| i.keyword == "RUN").map(|i| i.args.as_str()).collect::<Vec<_>>().join(" && ");
    for step in ["rustup target add wasm32-unknown-unknown", "cargo xtask ui", "--locked", "-p veloera-supervisor"] {
        assert!(runs.contains(step), "the build stage lacks `{step}`");
    }
    let ignored = std::fs::read_to_string(repo(".dockerignore")).unwrap();
    assert!(ignored.lines().any(|l| l.trim() == "target"), "the build context leaves out target/");
}

#[test]
fn every_variable_the_image_sets_is_read_by_a_service() {
    let (text, _) = runtime();
    let readers = [
        include_str!("../../../control-svc/src/config.rs"),
        include_str!("../../../relay-svc/src/config.rs"),
        include_str!("../../src/config.rs"),
    ];
    for (name, _) in dockerfile::env(&text) {
        let quoted = format!("\"{name}\"");
        assert!(readers.iter().any(|source| source.contains(&quoted)), "ENV {name} is read by no service");
    }
}
