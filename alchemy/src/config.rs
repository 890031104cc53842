//! `alchemy.toml`: which provider hosts each stage, with the provider's settings.
//!
//! ```toml
//! [stages.aws]
//! provider = "aws"
//!
//! [stages.aws.settings]
//! region = "eu-west-1"
//! ```
//!
//! A stage can also place individual resources on other providers, by resource id or by kind
//! (`bucket`, `actors`, `service`; an id wins over a kind), with the settings of each placed
//! provider in `[stages.NAME.providers.PROVIDER]` (see [`crate::placement`]):
//!
//! ```toml
//! [stages.hybrid]
//! provider = "local"                # the default of the stage
//! allow_unsupported = ["rooms"]     # optional: accept actor capabilities a provider lacks
//!
//! [stages.hybrid.place]
//! photos = "aws"                    # by resource id
//! actors = "cloudflare"             # by kind
//!
//! [stages.hybrid.providers.aws]     # settings of a placed provider
//! region = "eu-west-1"
//! ```
//!
//! The file is found by `--config PATH`, else `ALCHEMY_CONFIG`, else `alchemy.toml` in the
//! working directory. Without a file every stage is local, as is every stage the file does not
//! name. A stage's `provider` is `local` or the [`name`](crate::cloud::Cloud::name) of a cloud
//! the app registers with [`App::cloud`](crate::App::cloud); its `settings` table goes to that
//! cloud as it is. Stage `dev` is the local development stage: it is always local.
//!
//! ```
//! use std::path::Path;
//!
//! use alchemy::config::Config;
//!
//! let text = "[stages.aws]\nprovider = \"aws\"\n\n[stages.aws.settings]\nmemory = 256\n";
//! let config = Config::parse(text, Path::new("alchemy.toml"))?;
//! let stage = config.stage("aws").expect("configured");
//! assert_eq!(stage.provider, "aws");
//! assert_eq!(stage.settings["memory"], 256);
//! assert!(config.stage("staging").is_none()); // local
//! # Ok::<(), alchemy::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::error::{Error, Result};

/// The file looked for in the working directory.
pub const CONFIG_FILE: &str = "alchemy.toml";

/// The environment variable naming the config file (as `--config` does).
pub const CONFIG_ENV: &str = "ALCHEMY_CONFIG";

/// The stage that is always local: the one `dev` serves.
pub const DEV_STAGE: &str = "dev";

/// The provider name of the built-in local platform.
pub const LOCAL: &str = "local";

/// How one stage is hosted.
#[derive(Debug, Clone, PartialEq)]
pub struct StageEntry {
    /// The provider: `local`, or a registered cloud's name.
    pub provider: String,
    /// The `[stages.NAME.settings]` table, as JSON (an empty object when absent).
    pub settings: Value,
    /// The line of the stage's table in the file, for messages.
    pub line: usize,
    /// Where the stage's state is kept, from `[stages.NAME.state]`; `None`: local files.
    pub state: Option<StateEntry>,
    /// Resources placed on another provider than the stage's, from `[stages.NAME.place]`:
    /// a resource id or a kind (`bucket`, `actors`, `service`), to a provider name. An id wins
    /// over a kind.
    pub place: BTreeMap<String, String>,
    /// The settings of each placed provider other than the stage's own, from
    /// `[stages.NAME.providers.PROVIDER]`, as JSON.
    pub providers: BTreeMap<String, Value>,
    /// Actor namespaces allowed on a provider that lacks a capability they use, from
    /// `allow_unsupported = ["rooms"]`: what they use that it lacks fails when called. A
    /// namespace the app does not have allows nothing (one file can serve variants of an app).
    pub allow_unsupported: Vec<String>,
}

impl StageEntry {
    /// The settings of `provider` on this stage: `[stages.NAME.settings]` for the stage's own
    /// provider, `[stages.NAME.providers.PROVIDER]` for a placed one (an empty object when
    /// there are none).
    pub fn settings_of(&self, provider: &str) -> Value {
        if provider == self.provider {
            return self.settings.clone();
        }
        self.providers
            .get(provider)
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()))
    }
}

/// Where a stage's state is kept, when not in local files: a bucket of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct StateEntry {
    /// `local` (a bucket directory, such as a shared mount) or a registered cloud's name.
    pub provider: String,
    /// The key prefix in the bucket (default `<app>/<stage>/`).
    pub prefix: Option<String>,
    /// The other keys of the table, for the provider (`bucket`, `path`, ...), as JSON.
    pub settings: Value,
}

/// The parsed `alchemy.toml` (or none: every stage local).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    path: Option<PathBuf>,
    stages: BTreeMap<String, StageEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    stages: BTreeMap<Spanned<String>, Spanned<Stage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stage {
    provider: String,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    state: Option<StateTable>,
    #[serde(default)]
    place: BTreeMap<String, String>,
    #[serde(default)]
    providers: BTreeMap<String, toml::Table>,
    #[serde(default)]
    allow_unsupported: Vec<String>,
}

// No `deny_unknown_fields`: the keys besides `provider` and `prefix` go to the provider, which
// checks them.
#[derive(Deserialize)]
struct StateTable {
    provider: String,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(flatten)]
    settings: toml::Table,
}

const SHAPE: &str = "a stage is a `[stages.NAME]` table with `provider = \"local\"` (or the name of a cloud the app registers), an optional `[stages.NAME.settings]` table, an optional `[stages.NAME.state]` table saying where its state is kept, an optional `[stages.NAME.place]` table putting resources (by id or kind) on other providers, whose settings go in `[stages.NAME.providers.PROVIDER]`, and an optional `allow_unsupported` list of actor namespaces";

impl Config {
    /// No file: every stage is local.
    pub fn none() -> Self {
        Config::default()
    }

    /// Finds and reads the config: `explicit` (from `--config`), else the file `ALCHEMY_CONFIG`
    /// names, else `alchemy.toml` in the working directory if there is one. A file named by
    /// `--config` or `ALCHEMY_CONFIG` must exist.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        if let Some(path) = explicit {
            return Self::load(path, "--config");
        }
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Self::load(Path::new(&path), CONFIG_ENV);
        }
        let default = Path::new(CONFIG_FILE);
        if default.is_file() {
            return Self::load(default, "the working directory");
        }
        Ok(Config::none())
    }

    fn load(path: &Path, named_by: &str) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the config file {} (from {named_by}): {e}. Point --config or {CONFIG_ENV} at an existing alchemy.toml, or leave both unset to run every stage locally",
                path.display()
            ))
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a config file found at `path` (used in messages) and validates it:
    /// TOML syntax, known keys, stage names, and that `dev` and `local` stages are local
    /// without settings. Whether a provider is registered is checked when its stage is used.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let at = |span: Option<std::ops::Range<usize>>| {
            let (line, column) = line_column(text, span.map_or(0, |s| s.start));
            format!("{} at line {line}, column {column}", path.display())
        };
        if let Err(e) = toml::from_str::<toml::Table>(text) {
            return Err(Error::Config(format!(
                "malformed TOML in {}: {}",
                at(e.span()),
                first_line(e.message())
            )));
        }
        let file: File = toml::from_str(text).map_err(|e| {
            Error::Config(format!(
                "invalid {}: {}; {SHAPE}",
                at(e.span()),
                first_line(e.message())
            ))
        })?;
        let mut stages = BTreeMap::new();
        for (name, stage) in file.stages {
            let line = line_column(text, stage.span().start).0;
            let name_line = line_column(text, name.span().start).0;
            let name = name.into_inner();
            let stage = stage.into_inner();
            if crate::resource::validate_id(&name).is_err() {
                return Err(Error::Config(format!(
                    "invalid stage `{name}` in {} at line {name_line}: a stage starts with a letter and uses only letters, digits, `-` and `_`",
                    path.display()
                )));
            }
            if name == DEV_STAGE && stage.provider != LOCAL {
                return Err(Error::Config(format!(
                    "stage `dev` in {} at line {line} is on `{}`, but `dev` is the local development stage and always runs on the local provider: give that stage another name, such as `{}`",
                    path.display(),
                    stage.provider,
                    stage.provider
                )));
            }
            if stage.provider == LOCAL && !stage.settings.is_empty() {
                let keys: Vec<&str> = stage.settings.keys().map(String::as_str).collect();
                return Err(Error::Config(format!(
                    "stage `{name}` in {} at line {line} is on the local provider, which takes no settings (given: {}): remove `[stages.{name}.settings]`",
                    path.display(),
                    keys.join(", ")
                )));
            }
            let settings = serde_json::to_value(&stage.settings).map_err(|e| {
                Error::Config(format!(
                    "the settings of stage `{name}` in {} cannot be passed on: {e}",
                    path.display()
                ))
            })?;
            let state = match stage.state {
                None => None,
                Some(table) => Some(StateEntry {
                    provider: table.provider,
                    prefix: table.prefix,
                    settings: serde_json::to_value(&table.settings).map_err(|e| {
                        Error::Config(format!(
                            "the state settings of stage `{name}` in {} cannot be passed on: {e}",
                            path.display()
                        ))
                    })?,
                }),
            };
            let file = path.display();
            for (target, provider) in &stage.place {
                if crate::resource::validate_id(target).is_err() {
                    return Err(Error::Config(format!(
                        "stage `{name}` in {file} places `{target}`, which is neither a resource id nor a kind: under `[stages.{name}.place]`, name a resource id or one of `bucket`, `actors`, `service`"
                    )));
                }
                if crate::resource::validate_id(provider).is_err() {
                    return Err(Error::Config(format!(
                        "stage `{name}` in {file} places `{target}` on `{provider}`, which is not a provider name: use `local` or the name of a cloud the app registers"
                    )));
                }
            }
            let mut providers = BTreeMap::new();
            for (provider, table) in stage.providers {
                if provider == stage.provider {
                    return Err(Error::Config(format!(
                        "stage `{name}` in {file} is on `{provider}`, whose settings go in `[stages.{name}.settings]`: move `[stages.{name}.providers.{provider}]` there"
                    )));
                }
                if provider == LOCAL {
                    return Err(Error::Config(format!(
                        "stage `{name}` in {file} has settings for the local provider, which takes none: remove `[stages.{name}.providers.local]`"
                    )));
                }
                if !stage.place.values().any(|p| *p == provider) {
                    return Err(Error::Config(format!(
                        "stage `{name}` in {file} has settings for provider `{provider}`, which none of its placements names: place something on it under `[stages.{name}.place]`, or remove `[stages.{name}.providers.{provider}]`"
                    )));
                }
                let settings = serde_json::to_value(&table).map_err(|e| {
                    Error::Config(format!(
                        "the settings of provider `{provider}` on stage `{name}` in {file} cannot be passed on: {e}"
                    ))
                })?;
                providers.insert(provider, settings);
            }
            stages.insert(
                name,
                StageEntry {
                    provider: stage.provider,
                    settings,
                    line,
                    state,
                    place: stage.place,
                    providers,
                    allow_unsupported: stage.allow_unsupported,
                },
            );
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            stages,
        })
    }

    /// The file this config was read from; `None` when there was none.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How `stage` is hosted, if the file configures it (`None`: local).
    pub fn stage(&self, stage: &str) -> Option<&StageEntry> {
        self.stages.get(stage)
    }

    /// Every configured stage, by name.
    pub fn stages(&self) -> impl Iterator<Item = (&str, &StageEntry)> {
        self.stages
            .iter()
            .map(|(name, entry)| (name.as_str(), entry))
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("alchemy.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("refused").to_string()
    }

    #[test]
    fn stages_name_their_provider_and_settings() {
        let config = parse(
            r#"
[stages.aws]
provider = "aws"

[stages.aws.settings]
region = "eu-west-1"
memory = 512
tags = { team = "photos" }

[stages.staging]
provider = "local"
"#,
        )
        .unwrap();
        let aws = config.stage("aws").unwrap();
        assert_eq!(aws.provider, "aws");
        assert_eq!(
            aws.settings,
            serde_json::json!({ "region": "eu-west-1", "memory": 512, "tags": { "team": "photos" } })
        );
        assert_eq!(aws.line, 2);
        let staging = config.stage("staging").unwrap();
        assert_eq!(staging.provider, "local");
        assert_eq!(staging.settings, serde_json::json!({}));
        assert!(config.stage("dev").is_none());
        assert_eq!(
            config.stages().map(|(n, _)| n).collect::<Vec<_>>(),
            ["aws", "staging"]
        );
        assert_eq!(config.path(), Some(Path::new("alchemy.toml")));
    }

    #[test]
    fn an_empty_file_leaves_every_stage_local() {
        let config = parse("").unwrap();
        assert_eq!(config.stages().count(), 0);
        assert!(Config::none().path().is_none());
    }

    #[test]
    fn malformed_toml_names_line_and_column() {
        assert_eq!(
            error("[stages.aws]\nprovider = \"aws\nregion = 1\n"),
            "malformed TOML in alchemy.toml at line 2, column 16: invalid basic string, expected `\"`"
        );
    }

    #[test]
    fn an_unknown_stage_key_is_named() {
        assert_eq!(
            error("[stages.aws]\nprovider = \"aws\"\nregion = \"eu-west-1\"\n"),
            "invalid alchemy.toml at line 3, column 1: unknown field `region`, expected one of `provider`, `settings`, `state`, `place`, `providers`, `allow_unsupported`; a stage is a `[stages.NAME]` table with `provider = \"local\"` (or the name of a cloud the app registers), an optional `[stages.NAME.settings]` table, an optional `[stages.NAME.state]` table saying where its state is kept, an optional `[stages.NAME.place]` table putting resources (by id or kind) on other providers, whose settings go in `[stages.NAME.providers.PROVIDER]`, and an optional `allow_unsupported` list of actor namespaces"
        );
    }

    #[test]
    fn an_unknown_top_level_key_is_named() {
        assert_eq!(
            error("[stage.aws]\nprovider = \"aws\"\n"),
            "invalid alchemy.toml at line 1, column 2: unknown field `stage`, expected `stages`; a stage is a `[stages.NAME]` table with `provider = \"local\"` (or the name of a cloud the app registers), an optional `[stages.NAME.settings]` table, an optional `[stages.NAME.state]` table saying where its state is kept, an optional `[stages.NAME.place]` table putting resources (by id or kind) on other providers, whose settings go in `[stages.NAME.providers.PROVIDER]`, and an optional `allow_unsupported` list of actor namespaces"
        );
    }

    #[test]
    fn a_stage_without_provider_is_refused() {
        assert_eq!(
            error("[stages.aws.settings]\nregion = \"x\"\n"),
            "invalid alchemy.toml at line 1, column 9: missing field `provider`; a stage is a `[stages.NAME]` table with `provider = \"local\"` (or the name of a cloud the app registers), an optional `[stages.NAME.settings]` table, an optional `[stages.NAME.state]` table saying where its state is kept, an optional `[stages.NAME.place]` table putting resources (by id or kind) on other providers, whose settings go in `[stages.NAME.providers.PROVIDER]`, and an optional `allow_unsupported` list of actor namespaces"
        );
    }

    #[test]
    fn a_stage_name_must_be_an_id() {
        assert_eq!(
            error("[stages.\"my stage\"]\nprovider = \"local\"\n"),
            "invalid stage `my stage` in alchemy.toml at line 1: a stage starts with a letter and uses only letters, digits, `-` and `_`"
        );
    }

    #[test]
    fn dev_stays_local() {
        assert_eq!(
            error("[stages.dev]\nprovider = \"aws\"\n"),
            "stage `dev` in alchemy.toml at line 1 is on `aws`, but `dev` is the local development stage and always runs on the local provider: give that stage another name, such as `aws`"
        );
        assert!(parse("[stages.dev]\nprovider = \"local\"\n").is_ok());
    }

    #[test]
    fn the_local_provider_takes_no_settings() {
        assert_eq!(
            error("[stages.qa]\nprovider = \"local\"\n[stages.qa.settings]\nregion = \"x\"\n"),
            "stage `qa` in alchemy.toml at line 1 is on the local provider, which takes no settings (given: region): remove `[stages.qa.settings]`"
        );
    }

    #[test]
    fn placements_name_targets_providers_and_their_settings() {
        let config = parse(
            r#"
[stages.hybrid]
provider = "local"
allow_unsupported = ["rooms"]

[stages.hybrid.place]
photos = "aws"
actors = "cloudflare"

[stages.hybrid.providers.aws]
region = "eu-west-1"
"#,
        )
        .unwrap();
        let hybrid = config.stage("hybrid").unwrap();
        assert_eq!(
            hybrid.place,
            BTreeMap::from([
                ("actors".to_string(), "cloudflare".to_string()),
                ("photos".to_string(), "aws".to_string()),
            ])
        );
        assert_eq!(
            hybrid.settings_of("aws"),
            serde_json::json!({ "region": "eu-west-1" })
        );
        assert_eq!(hybrid.settings_of("cloudflare"), serde_json::json!({}));
        assert_eq!(hybrid.settings_of("local"), serde_json::json!({}));
        assert_eq!(hybrid.allow_unsupported, ["rooms"]);
    }

    #[test]
    fn placed_provider_settings_must_belong_to_a_placed_provider() {
        assert_eq!(
            error("[stages.aws]\nprovider = \"aws\"\n[stages.aws.providers.aws]\nregion = \"x\"\n"),
            "stage `aws` in alchemy.toml is on `aws`, whose settings go in `[stages.aws.settings]`: move `[stages.aws.providers.aws]` there"
        );
        assert_eq!(
            error("[stages.h]\nprovider = \"aws\"\n[stages.h.place]\nrooms = \"local\"\n[stages.h.providers.local]\npath = \"x\"\n"),
            "stage `h` in alchemy.toml has settings for the local provider, which takes none: remove `[stages.h.providers.local]`"
        );
        assert_eq!(
            error("[stages.h]\nprovider = \"local\"\n[stages.h.providers.aws]\nregion = \"x\"\n"),
            "stage `h` in alchemy.toml has settings for provider `aws`, which none of its placements names: place something on it under `[stages.h.place]`, or remove `[stages.h.providers.aws]`"
        );
    }

    #[test]
    fn a_placement_target_must_be_an_id() {
        assert_eq!(
            error("[stages.h]\nprovider = \"local\"\n[stages.h.place]\n\"my photos\" = \"aws\"\n"),
            "stage `h` in alchemy.toml places `my photos`, which is neither a resource id nor a kind: under `[stages.h.place]`, name a resource id or one of `bucket`, `actors`, `service`"
        );
        assert_eq!(
            error("[stages.h]\nprovider = \"local\"\n[stages.h.place]\nphotos = \"\"\n"),
            "stage `h` in alchemy.toml places `photos` on ``, which is not a provider name: use `local` or the name of a cloud the app registers"
        );
    }

    #[test]
    fn lines_and_columns_count_characters() {
        assert_eq!(line_column("ab\ncdé\nf", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé\nf", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé\nf", 8), (3, 1));
        assert_eq!(line_column("ab\ncdé\nf", 7), (2, 4));
    }
}
