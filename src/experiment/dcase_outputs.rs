//! A DCASE 2021-2025 trial's extra outputs: the year's figures (into
//! metrics.json) and the challenge's submission files under `<trial>/dcase/`.

use std::path::{Path, PathBuf};

use crate::data::{DataConfig, Layout, parse_dcase};
use crate::eval::dcase::{DcaseMetrics, dcase_metrics, submission_files};

/// The machine type: the dataset root's folder name (`dev_data/fan` → `fan`).
fn machine_of(root: &Path) -> String {
    let absolute = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "machine".into())
}

/// Figures and submission files of `scored` (test file, clip score); `None`
/// when the dataset is not a DCASE folder with 2021-on names.
pub(super) fn dcase_outputs(
    data: &DataConfig,
    dir: &Path,
    scored: &[(PathBuf, f64)],
    threshold: Option<f64>,
) -> std::io::Result<Option<DcaseMetrics>> {
    if data.layout != Layout::Dcase {
        return Ok(None);
    }
    let rows: Vec<_> = scored
        .iter()
        .filter_map(|(path, score)| {
            parse_dcase(path)
                .filter(|n| n.domain.is_some())
                .map(|n| (path.clone(), n, *score))
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let machine = machine_of(&data.root);
    let named: Vec<_> = rows.iter().map(|(_, n, s)| (n.clone(), *s)).collect();
    let metrics = dcase_metrics(&named, data.dcase_year, &machine);
    let out = dir.join("dcase");
    std::fs::create_dir_all(&out)?;
    for (name, text) in submission_files(&rows, data.dcase_year, &machine, threshold) {
        crate::fsx::write_atomic(&out.join(name), text.as_bytes())?;
    }
    Ok(metrics)
}
