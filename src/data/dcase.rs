//! The DCASE task-2 development layout: `root/train/normal_id_XX_*.wav` and
//! `root/test/{normal,anomaly}_id_XX_*.wav` (root is one machine type, e.g.
//! `fan/`). `machine_ids` keeps some ids; [`machine_ids`] lists them for one
//! model per id.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{DataError, DatasetFiles, FileFailure, Label};
use crate::audio::discover;

/// Label and machine id of a DCASE file name (`anomaly_id_02_00000012.wav`).
pub fn parse_dcase_name(path: &Path) -> Option<(Label, String)> {
    let stem = path.file_stem()?.to_str()?;
    let (label, rest) = if let Some(rest) = stem.strip_prefix("normal_") {
        (Label::Normal, rest)
    } else if let Some(rest) = stem.strip_prefix("anomaly_") {
        (Label::Anomaly, rest)
    } else {
        return None;
    };
    let mut parts = rest.splitn(3, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("id"), Some(id), Some(_)) if !id.is_empty() => Some((label, format!("id_{id}"))),
        _ => None,
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    if dir.is_dir() {
        discover(&[dir.to_path_buf()])
            .0
            .into_iter()
            .map(|f| f.path)
            .collect()
    } else {
        Vec::new()
    }
}

/// The machine ids present in `root/train`, sorted.
pub fn machine_ids(root: &Path) -> Vec<String> {
    files_in(&root.join("train"))
        .iter()
        .filter_map(|p| parse_dcase_name(p).map(|(_, id)| id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Lists a DCASE machine folder, keeping `keep` ids (all when empty); files
/// whose names do not follow the pattern are reported and skipped.
pub fn list_dcase(
    root: &Path,
    keep: &[String],
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let train_dir = root.join("train");
    if !train_dir.is_dir() {
        return Err(DataError::Missing {
            path: train_dir,
            reason: "the dcase layout needs train/normal_id_XX_*.wav (and test/{normal,anomaly}_id_XX_*.wav)".into(),
        });
    }
    let wanted = |id: &str| keep.is_empty() || keep.iter().any(|k| k == id);
    let mut files = DatasetFiles::default();
    let mut failures = Vec::new();
    for (dir, is_train) in [(train_dir.clone(), true), (root.join("test"), false)] {
        for path in files_in(&dir) {
            match parse_dcase_name(&path) {
                None => failures.push(FileFailure {
                    reason: "name does not follow normal_id_XX_*.wav / anomaly_id_XX_*.wav; skipped".into(),
                    path,
                }),
                Some((_, id)) if !wanted(&id) => {}
                Some((Label::Anomaly, _)) if is_train => failures.push(FileFailure {
                    reason: "an anomaly in train/: the dcase layout trains on normal clips only; skipped".into(),
                    path,
                }),
                Some((_, _)) if is_train => files.train.push(path),
                Some((label, _)) => files.test.push((path, label)),
            }
        }
    }
    if files.train.is_empty() {
        return Err(DataError::Empty {
            what: "training files",
            detail: format!(
                "no normal_id_XX_*.wav in {} for machine ids {keep:?}",
                train_dir.display()
            ),
        });
    }
    Ok((files, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_label_and_machine_id() {
        let p = |s: &str| parse_dcase_name(Path::new(s));
        assert_eq!(
            p("normal_id_00_00000001.wav"),
            Some((Label::Normal, "id_00".into()))
        );
        assert_eq!(
            p("x/anomaly_id_04_00000123.wav"),
            Some((Label::Anomaly, "id_04".into()))
        );
        assert_eq!(p("normal_00000001.wav"), None);
        assert_eq!(p("section_00_source.wav"), None);
    }
}
