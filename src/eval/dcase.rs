//! The DCASE task-2 metrics of 2021-2025 for one machine type, as the
//! challenge's evaluators define them, and its submission files.
//!
//! - 2022-2025, per section: AUC (source) over the source normals and every
//!   anomaly of the section, AUC (target) likewise, pAUC (max FPR 0.1) over
//!   the whole section; the official score is the harmonic mean of all of
//!   them (each floored at machine epsilon).
//! - 2021, per section and domain: AUC and pAUC over that domain's files;
//!   the official score is the harmonic mean of all AUCs and pAUCs.
//!
//! A figure whose files hold one class only is undefined: it is left out
//! (and named in `undefined`), never NaN.

use std::path::{Path, PathBuf};

use super::metrics::{partial_auc, roc_auc};
use crate::data::{DcaseName, Domain, Label};
pub use crate::records::{DcaseMetrics, SectionMetrics};

/// The challenge's pAUC range.
const MAX_FPR: f64 = 0.1;

/// Harmonic mean of `values`, each floored at machine epsilon (scipy's hmean
/// of numpy.maximum(values, eps), as the evaluators take it).
pub fn harmonic_mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let inverse: f64 = values.iter().map(|v| 1.0 / v.max(f64::EPSILON)).sum();
    Some(values.len() as f64 / inverse)
}

/// The metrics of `rows` (a 2021-on name and clip score per test file) by
/// `year`'s definitions; `None` when no file has a 2021-on name.
pub fn dcase_metrics(rows: &[(DcaseName, f64)], year: u16, machine: &str) -> Option<DcaseMetrics> {
    let mut sections: Vec<&str> = rows
        .iter()
        .filter(|(n, _)| n.domain.is_some())
        .map(|(n, _)| n.group.as_str())
        .collect();
    sections.sort();
    sections.dedup();
    if sections.is_empty() {
        return None;
    }
    let mut undefined = Vec::new();
    let mut out = Vec::new();
    for section in sections {
        let in_section: Vec<&(DcaseName, f64)> =
            rows.iter().filter(|(n, _)| n.group == section).collect();
        let figure = |keep: &dyn Fn(&DcaseName) -> bool, partial: bool, what: &str| {
            let (scores, anomalous): (Vec<f64>, Vec<bool>) = in_section
                .iter()
                .filter(|(n, _)| keep(n))
                .map(|(n, s)| (*s, n.label == Label::Anomaly))
                .unzip();
            let value = if partial {
                partial_auc(&scores, &anomalous, MAX_FPR)
            } else {
                roc_auc(&scores, &anomalous)
            };
            (value, format!("{section} {what}"))
        };
        let domain_is = |d: Domain| move |n: &DcaseName| n.domain == Some(d);
        let mut metrics = SectionMetrics {
            section: section.to_string(),
            files: in_section.len(),
            auc_source: None,
            auc_target: None,
            pauc: None,
            pauc_source: None,
            pauc_target: None,
        };
        let mut computed = Vec::new();
        if year == 2021 {
            computed.push((
                "auc_source",
                figure(&domain_is(Domain::Source), false, "AUC (source)"),
            ));
            computed.push((
                "auc_target",
                figure(&domain_is(Domain::Target), false, "AUC (target)"),
            ));
            computed.push((
                "pauc_source",
                figure(&domain_is(Domain::Source), true, "pAUC (source)"),
            ));
            computed.push((
                "pauc_target",
                figure(&domain_is(Domain::Target), true, "pAUC (target)"),
            ));
        } else {
            let with_anomalies =
                |d: Domain| move |n: &DcaseName| n.domain == Some(d) || n.label == Label::Anomaly;
            computed.push((
                "auc_source",
                figure(&with_anomalies(Domain::Source), false, "AUC (source)"),
            ));
            computed.push((
                "auc_target",
                figure(&with_anomalies(Domain::Target), false, "AUC (target)"),
            ));
            computed.push(("pauc", figure(&|_: &DcaseName| true, true, "pAUC")));
        }
        for (field, (value, what)) in computed {
            if value.is_none() {
                undefined.push(format!("{what}: one class only"));
            }
            let slot = match field {
                "auc_source" => &mut metrics.auc_source,
                "auc_target" => &mut metrics.auc_target,
                "pauc" => &mut metrics.pauc,
                "pauc_source" => &mut metrics.pauc_source,
                _ => &mut metrics.pauc_target,
            };
            *slot = value;
        }
        out.push(metrics);
    }
    let collect = |f: &dyn Fn(&SectionMetrics) -> Vec<Option<f64>>| -> Vec<f64> {
        out.iter().flat_map(f).flatten().collect()
    };
    let auc_source = collect(&|m| vec![m.auc_source]);
    let auc_target = collect(&|m| vec![m.auc_target]);
    let pauc = collect(&|m| vec![m.pauc, m.pauc_source, m.pauc_target]);
    let all: Vec<f64> = auc_source
        .iter()
        .chain(&auc_target)
        .chain(&pauc)
        .copied()
        .collect();
    Some(DcaseMetrics {
        year,
        machine: machine.to_string(),
        official_score: harmonic_mean(&all),
        hmean_auc_source: harmonic_mean(&auc_source),
        hmean_auc_target: harmonic_mean(&auc_target),
        hmean_pauc: harmonic_mean(&pauc),
        sections: out,
        undefined,
    })
}

/// The submission files of `year` for `rows` (path, name, score): per
/// section (and, in 2021, domain) `anomaly_score_<machine>_section_XX[_domain]_test.csv`
/// with `file,score` rows, and with a threshold `decision_result_...` with
/// `file,0|1` (1: score above it). Returned as (file name, contents).
pub fn submission_files(
    rows: &[(PathBuf, DcaseName, f64)],
    year: u16,
    machine: &str,
    threshold: Option<f64>,
) -> Vec<(String, String)> {
    let mut keys: Vec<String> = rows
        .iter()
        .filter(|(_, n, _)| n.domain.is_some())
        .map(|(_, n, _)| file_key(n, year))
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let mine: Vec<&(PathBuf, DcaseName, f64)> = rows
            .iter()
            .filter(|(_, n, _)| n.domain.is_some() && file_key(n, year) == key)
            .collect();
        let name_of = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let scores: String = mine
            .iter()
            .map(|(p, _, s)| format!("{},{s}\n", name_of(p)))
            .collect();
        out.push((format!("anomaly_score_{machine}_{key}_test.csv"), scores));
        if let Some(t) = threshold {
            let decisions: String = mine
                .iter()
                .map(|(p, _, s)| format!("{},{}\n", name_of(p), u8::from(*s > t)))
                .collect();
            out.push((
                format!("decision_result_{machine}_{key}_test.csv"),
                decisions,
            ));
        }
    }
    out
}

fn file_key(name: &DcaseName, year: u16) -> String {
    match (year, name.domain) {
        (2021, Some(Domain::Source)) => format!("{}_source", name.group),
        (2021, Some(Domain::Target)) => format!("{}_target", name.group),
        _ => name.group.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(section: &str, domain: Domain, anomaly: bool) -> DcaseName {
        DcaseName {
            label: if anomaly {
                Label::Anomaly
            } else {
                Label::Normal
            },
            group: section.into(),
            domain: Some(domain),
        }
    }

    #[test]
    fn a_hand_worked_section_and_one_class_left_undefined() {
        use Domain::{Source, Target};
        // Source: normals 0.1, 0.2; target: normals 0.3, 0.9; anomalies 0.5 (s), 0.8 (t).
        let rows = vec![
            (name("section_00", Source, false), 0.1),
            (name("section_00", Source, false), 0.2),
            (name("section_00", Target, false), 0.3),
            (name("section_00", Target, false), 0.9),
            (name("section_00", Source, true), 0.5),
            (name("section_00", Target, true), 0.8),
            // Section 01 has normals only: every figure undefined.
            (name("section_01", Source, false), 0.4),
        ];
        let m = dcase_metrics(&rows, 2023, "fan").unwrap();
        let s = &m.sections[0];
        // AUC (source): normals {0.1, 0.2} vs anomalies {0.5, 0.8}: 1.
        assert_eq!(s.auc_source, Some(1.0));
        // AUC (target): normals {0.3, 0.9} vs {0.5, 0.8}: pairs won 2 of 4.
        assert_eq!(s.auc_target, Some(0.5));
        assert_eq!(m.sections[1].auc_source, None);
        assert_eq!(m.undefined.len(), 3);
        let all = [1.0, 0.5, s.pauc.unwrap()];
        let expected = 3.0 / all.iter().map(|v| 1.0 / v).sum::<f64>();
        assert!((m.official_score.unwrap() - expected).abs() < 1e-12);
        // Harmonic mean floors zeros at epsilon instead of dividing by zero.
        assert!(harmonic_mean(&[0.0, 1.0]).unwrap() < 1e-15);

        let files = submission_files(
            &rows
                .iter()
                .enumerate()
                .map(|(i, (n, s))| (PathBuf::from(format!("t/f{i}.wav")), n.clone(), *s))
                .collect::<Vec<_>>(),
            2021,
            "fan",
            Some(0.45),
        );
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"anomaly_score_fan_section_00_source_test.csv"));
        assert!(names.contains(&"decision_result_fan_section_01_source_test.csv"));
        let source = &files
            .iter()
            .find(|(n, _)| n == "decision_result_fan_section_00_source_test.csv")
            .unwrap()
            .1;
        assert_eq!(source, "f0.wav,0\nf1.wav,0\nf4.wav,1\n");
    }
}
