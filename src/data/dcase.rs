//! The DCASE task-2 development layouts, one machine type per root (e.g.
//! `fan/`): 2020's `root/train/normal_id_XX_*.wav` and
//! `root/test/{normal,anomaly}_id_XX_*.wav`, and 2021-2025's
//! `root/{train,test}/section_XX_{source,target}_{train,test}_{normal,anomaly}_*.wav`
//! (2022 on with attributes after the index; 2021 keeps its test clips in
//! `source_test/` and `target_test/` instead of `test/`). `machine_ids` keeps some
//! machine ids or sections; [`machine_ids`] lists them for one model each.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataError, DatasetFiles, FileFailure, Label};
use crate::audio::discover;

/// Source or target domain (2021 on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// The domain with plenty of training clips.
    Source,
    /// The shifted domain.
    Target,
}

/// What a DCASE file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcaseName {
    /// Normal or anomaly.
    pub label: Label,
    /// `id_XX` (2020) or `section_XX` (2021 on).
    pub group: String,
    /// The domain, for 2021-on names.
    pub domain: Option<Domain>,
}

/// Parses a DCASE file name of either era.
pub fn parse_dcase(path: &Path) -> Option<DcaseName> {
    let stem = path.file_stem()?.to_str()?;
    if let Some(rest) = stem.strip_prefix("section_") {
        // section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_attributes]
        let mut parts = rest.split('_');
        let section = parts.next().filter(|s| !s.is_empty())?;
        let domain = match parts.next()? {
            "source" => Domain::Source,
            "target" => Domain::Target,
            _ => return None,
        };
        if !matches!(parts.next()?, "train" | "test") {
            return None;
        }
        let label = match parts.next()? {
            "normal" => Label::Normal,
            "anomaly" => Label::Anomaly,
            _ => return None,
        };
        parts.next().filter(|index| !index.is_empty())?;
        return Some(DcaseName {
            label,
            group: format!("section_{section}"),
            domain: Some(domain),
        });
    }
    let (label, rest) = if let Some(rest) = stem.strip_prefix("normal_") {
        (Label::Normal, rest)
    } else if let Some(rest) = stem.strip_prefix("anomaly_") {
        (Label::Anomaly, rest)
    } else {
        return None;
    };
    let mut parts = rest.splitn(3, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("id"), Some(id), Some(_)) if !id.is_empty() => Some(DcaseName {
            label,
            group: format!("id_{id}"),
            domain: None,
        }),
        _ => None,
    }
}

/// Label and machine id (or section) of a DCASE file name
/// (`anomaly_id_02_00000012.wav`, `section_01_target_test_normal_0003.wav`).
pub fn parse_dcase_name(path: &Path) -> Option<(Label, String)> {
    parse_dcase(path).map(|n| (n.label, n.group))
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

/// Where a machine folder keeps its test clips: `test/`, or 2021's
/// `source_test/` and `target_test/`.
pub const DCASE_TEST_FOLDERS: [&str; 3] = ["test", "source_test", "target_test"];

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
            reason: "the dcase layout needs train/normal_id_XX_*.wav or train/section_XX_source_train_normal_*.wav (and their test/ files)".into(),
        });
    }
    let wanted = |id: &str| keep.is_empty() || keep.iter().any(|k| k == id);
    let mut files = DatasetFiles::default();
    let mut failures = Vec::new();
    // One era per folder: a 2020 file and a 2021-on file together is a mix-up.
    let (mut first_2020, mut first_sections) = (None, None);
    let test_dirs = DCASE_TEST_FOLDERS.iter().map(|d| (root.join(d), false));
    for (dir, is_train) in std::iter::once((train_dir.clone(), true)).chain(test_dirs) {
        for path in files_in(&dir) {
            if let Some(name) = parse_dcase(&path) {
                let slot = if name.domain.is_some() {
                    &mut first_sections
                } else {
                    &mut first_2020
                };
                slot.get_or_insert_with(|| path.clone());
            }
            match parse_dcase_name(&path) {
                None => failures.push(FileFailure {
                    reason: "name does not follow normal_id_XX_*.wav / anomaly_id_XX_*.wav (2020) or section_XX_{source,target}_{train,test}_{normal,anomaly}_*.wav (2021 on); skipped".into(),
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
    if let (Some(a), Some(b)) = (&first_2020, &first_sections) {
        return Err(DataError::Missing {
            path: root.to_path_buf(),
            reason: format!(
                "a mix of DCASE 2020 names ({}) and 2021-on names ({}); keep one year's files per folder",
                a.display(),
                b.display()
            ),
        });
    }
    if files.train.is_empty() {
        return Err(DataError::Empty {
            what: "training files",
            detail: format!(
                "no normal_id_XX_*.wav or section_XX_*_normal_*.wav in {} for machine ids {keep:?}",
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
        // 2021 on: section, domain, split, label, index, and 2022's attributes.
        let n = |s: &str| parse_dcase(Path::new(s));
        assert_eq!(
            n("section_01_target_test_anomaly_0007.wav"),
            Some(DcaseName {
                label: Label::Anomaly,
                group: "section_01".into(),
                domain: Some(Domain::Target)
            })
        );
        assert_eq!(
            n("section_00_source_train_normal_0000_vel_6_loc_A.wav").map(|n| (n.label, n.domain)),
            Some((Label::Normal, Some(Domain::Source)))
        );
        assert_eq!(n("section_00_elsewhere_test_normal_0001.wav"), None);
        assert_eq!(n("section_00_source_test_broken_0001.wav"), None);
        assert_eq!(n("section_00_source_test_normal.wav"), None);
    }
}
