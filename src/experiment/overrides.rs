//! Command-line overrides (`--set key=value`, `--seed N`), Hydra's habit,
//! through the same dotted paths as sweep parameters, and experiment text read
//! back from a trial's resolved `config.toml` so a trial reruns exactly.

use std::path::Path;

use super::ExperimentError;

/// One `--set KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// A dotted path: `train.epochs`, `model.hidden` (every model) or
    /// `model[lstm].hidden` (the model named `lstm`).
    pub key: String,
    /// A TOML value (`3`, `1e-3`, `[64, 32]`, `"mfcc"`); bare words are strings.
    pub value: toml::Value,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, raw) = s.split_once('=').ok_or_else(|| {
            format!("--set {s:?}: expected KEY=VALUE, e.g. --set train.epochs=10 or --set 'model[rnn].hidden=128'")
        })?;
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(format!("--set {s:?}: the key is empty"));
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Self { key, value })
    }
}

/// Applies `overrides` and `seed` to experiment `text` (from `path`, for
/// messages); the result is experiment text to parse as usual.
pub fn apply(
    text: &str,
    path: &Path,
    overrides: &[Override],
    seed: Option<u64>,
) -> Result<String, ExperimentError> {
    if overrides.is_empty() && seed.is_none() {
        return Ok(text.to_string());
    }
    let invalid = |message: String| ExperimentError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
    for o in overrides {
        set_one(&mut table, o).map_err(|m| invalid(format!("--set {}: {m}", o.key)))?;
    }
    if let Some(seed) = seed {
        table.insert("seed".into(), toml::Value::Integer(seed as i64));
    }
    Ok(toml::to_string(&table).expect("tables serialise"))
}

/// An error of the overridden text, told in terms of the overrides: its line
/// numbers belong to rewritten text the user never saw, so the key is named instead.
pub fn explain(
    err: ExperimentError,
    text: &str,
    overrides: &[Override],
    seed: Option<u64>,
) -> ExperimentError {
    let given: Vec<String> = overrides
        .iter()
        .map(|o| format!("--set {}={}", o.key, o.value))
        .chain(seed.map(|s| format!("--seed {s}")))
        .collect();
    match err {
        ExperimentError::Parse {
            path,
            line,
            message,
            ..
        } => {
            let key = text
                .lines()
                .nth(line.saturating_sub(1))
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim().to_string())
                .unwrap_or_default();
            ExperimentError::Invalid {
                path,
                message: format!("with {}: `{key}`: {message}", given.join(" ")),
            }
        }
        ExperimentError::Invalid { path, message } => ExperimentError::Invalid {
            path,
            message: format!("with {}: {message}", given.join(" ")),
        },
        other => other,
    }
}

fn set_one(table: &mut toml::Table, o: &Override) -> Result<(), String> {
    let Some(rest) = o.key.strip_prefix("model[") else {
        return set_path(table, &o.key, &o.value, "key");
    };
    let (name, key) = rest
        .split_once("].")
        .ok_or_else(|| "expected model[NAME].key, e.g. model[rnn].hidden".to_string())?;
    let models = table
        .get_mut("model")
        .and_then(|m| m.as_array_mut())
        .ok_or_else(|| "the experiment has no [[model]]".to_string())?;
    let mut names = Vec::new();
    for m in models.iter_mut() {
        let Some(t) = m.as_table_mut() else { continue };
        let own = t
            .get("name")
            .or_else(|| t.get("kind"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        if own == name {
            let mut single = toml::Table::new();
            single.insert("model".into(), toml::Value::Array(vec![m.clone()]));
            set_path(&mut single, &format!("model.{key}"), &o.value, "key")?;
            *m = single["model"].as_array().expect("one model")[0].clone();
            return Ok(());
        }
        names.push(own);
    }
    Err(format!(
        "no model named {name:?} (models: {})",
        names.join(", ")
    ))
}

/// Sets `value` at a dotted `path` of an experiment table; errors name the
/// path as `noun` ("key" for `--set`, "sweep parameter" for a sweep). `model.*` applies to
/// every `[[model]]`; `model.kind` replaces each model table by a fresh one of that kind.
pub fn set_path(
    table: &mut toml::Table,
    path: &str,
    value: &toml::Value,
    noun: &str,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let known = ["name", "seed", "data", "features", "model", "train", "eval"];
    if !known.contains(&parts[0]) {
        return Err(format!(
            "{noun} `{path}`: `{}` is not a section of an experiment (allowed: {})",
            parts[0],
            known.join(", ")
        ));
    }
    if parts[0] == "model" {
        let Some(models) = table.get_mut("model").and_then(|m| m.as_array_mut()) else {
            return Err(format!("{noun} on model.* needs at least one [[model]]"));
        };
        if parts.len() < 2 {
            return Err(format!(
                "{noun} `{path}` must name a model key, e.g. model.hidden"
            ));
        }
        for m in models {
            let Some(mt) = m.as_table_mut() else { continue };
            if parts[1..] == ["kind"] {
                let name = mt.get("name").cloned();
                mt.clear();
                if let Some(n) = name {
                    mt.insert("name".into(), n);
                }
            }
            set_in(mt, &parts[1..], value);
        }
        return Ok(());
    }
    set_in(table, &parts, value);
    Ok(())
}

fn set_in(table: &mut toml::Table, parts: &[&str], value: &toml::Value) {
    if parts.len() == 1 {
        table.insert(parts[0].to_string(), value.clone());
        return;
    }
    let entry = table
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    set_in(entry.as_table_mut().expect("a table"), &parts[1..], value);
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"d\"\n[[model]]\nkind = \"rnn\"\nname = \"lstm\"\n[[model]]\nkind = \"dense\"\n[train]\nepochs = 5\n";

    fn parse(text: &str) -> super::super::Experiment {
        super::super::Experiment::parse(text, Path::new("x.toml")).unwrap()
    }

    #[test]
    fn overrides_reach_their_keys_and_bad_ones_name_themselves() {
        let set = |s: &str| s.parse::<Override>().unwrap();
        let text = apply(
            EXP,
            Path::new("x.toml"),
            &[
                set("train.epochs=2"),
                set("model[lstm].hidden=128"),
                set("data.root=other/dir"),
            ],
            Some(7),
        )
        .unwrap();
        let exp = parse(&text);
        assert_eq!((exp.train.epochs, exp.seed), (2, 7));
        assert_eq!(exp.data.root, Path::new("other/dir"));
        match &exp.model[0] {
            crate::models::ModelConfig::Rnn(r) => assert_eq!(r.hidden, 128),
            other => panic!("{other:?}"),
        }
        let err = apply(
            EXP,
            Path::new("x.toml"),
            &[set("model[gru].hidden=3")],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--set model[gru].hidden") && err.contains("lstm, dense"),
            "{err}"
        );
        let err = apply(EXP, Path::new("x.toml"), &[set("trian.epochs=3")], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("trian") && err.contains("train"), "{err}");
        assert!(
            "epochs"
                .parse::<Override>()
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        // A value of the wrong type fails as the file would, naming the key.
        let bad = [set("train.epochs=\"many\"")];
        let text = apply(EXP, Path::new("x.toml"), &bad, None).unwrap();
        let err = super::super::Experiment::parse(&text, Path::new("x.toml")).unwrap_err();
        let err = explain(err, &text, &bad, None).to_string();
        assert!(
            err.contains("--set train.epochs=\"many\"") && err.contains("`epochs`"),
            "{err}"
        );
    }
}

/// A dataset root as run records keep it: one under the data folder
/// ([`crate::datasets::data_dir_of`] without a flag: `$EARSHOT_DATA`, else `~/.cache/earshot/data`)
/// relative to it (`fsdd`, as an experiment names it), so a runs folder
/// shared with colleagues holds no home directory; any other root as it is.
/// [`resolve_root`] finds either form again.
pub fn portable_root(root: &Path) -> std::path::PathBuf {
    crate::datasets::data_dir_of(None)
        .and_then(|base| root.strip_prefix(&base).ok().map(Path::to_path_buf))
        .filter(|rest| !rest.as_os_str().is_empty())
        .unwrap_or_else(|| root.to_path_buf())
}

/// Resolves a relative `[data] root` so an experiment travels: as given (from
/// the current folder), else beside the experiment file `path`, else under the
/// data folder (`data_dir`, see [`crate::datasets::data_dir_of`]). The first that exists is returned; when none
/// does, the error lists where it looked.
pub fn resolve_root(
    root: &Path,
    path: &Path,
    data_dir: Option<&Path>,
) -> Result<std::path::PathBuf, ExperimentError> {
    if root.is_absolute() {
        return Ok(root.to_path_buf());
    }
    let beside = path.parent().map(|p| p.join(root));
    let candidates: Vec<std::path::PathBuf> = std::iter::once(root.to_path_buf())
        .chain(beside)
        .chain(data_dir.map(|d| d.join(root)))
        .collect();
    match candidates.iter().find(|c| c.is_dir()) {
        Some(found) => Ok(found.clone()),
        None => {
            let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            Err(ExperimentError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "[data] root {:?}: dataset folder not found; tried {} (give --data ROOT, or put the dataset under --data-dir or $EARSHOT_DATA)",
                    root.display().to_string(),
                    tried.join(", ")
                ),
            })
        }
    }
}

#[cfg(test)]
mod root_tests {
    use super::*;

    #[test]
    fn a_relative_root_is_found_beside_the_file_or_under_the_data_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let exp_dir = tmp.path().join("exps");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(exp_dir.join("beside")).unwrap();
        std::fs::create_dir_all(data.join("fsdd")).unwrap();
        let file = exp_dir.join("x.toml");
        let resolve = |root: &str| resolve_root(Path::new(root), &file, Some(&data));
        assert_eq!(resolve("beside").unwrap(), exp_dir.join("beside"));
        assert_eq!(resolve("fsdd").unwrap(), data.join("fsdd"));
        // Records keep a root under the data folder relative to it (HOME-free).
        if std::env::var_os("EARSHOT_DATA").is_none()
            && let Some(base) = crate::datasets::data_dir_of(None)
        {
            assert_eq!(portable_root(&base.join("fsdd")), Path::new("fsdd"));
        }
        assert_eq!(
            portable_root(&exp_dir.join("beside")),
            exp_dir.join("beside")
        );
        let err = resolve("nowhere").unwrap_err().to_string();
        assert!(
            err.contains("nowhere") && err.contains("not found") && err.contains("--data"),
            "{err}"
        );
    }
}
