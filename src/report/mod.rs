//! The report stage: `report.md` and `plots/` of a trial: loss curves (from `events.jsonl`),
//! the ROC curve with its AUC, and the score histograms of normal vs anomaly
//! clips with the threshold, drawn with plotters into PNG files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::eval::{roc_auc, roc_curve};

/// What a report shows.
pub struct ReportInput<'a> {
    /// `<experiment>/<trial>`.
    pub title: String,
    /// metrics.json, written out as a table.
    pub metrics: &'a crate::records::TrialMetrics,
    /// (clip score, is an anomaly) of the scored test clips.
    pub scores: &'a [(f64, bool)],
    /// The decision threshold.
    pub threshold: Option<f64>,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// `scores.csv`: `file,score,label,flag` for (file, clip score, is an anomaly),
/// flagged when the score is above `threshold`.
pub fn scores_csv<'a>(
    rows: impl IntoIterator<Item = (&'a Path, f64, bool)>,
    threshold: Option<f64>,
) -> String {
    let rows = rows.into_iter().map(|(path, score, anomaly)| {
        let flag = threshold.is_some_and(|t| score > t);
        let label = if anomaly { "anomaly" } else { "normal" };
        vec![
            path.display().to_string(),
            format!("{score:.6}"),
            label.to_string(),
            u8::from(flag).to_string(),
        ]
    });
    crate::csvx::to_string(&["file", "score", "label", "flag"], rows)
}

/// (file, score, is an anomaly) per row of a `scores.csv` text; rows that do
/// not parse are skipped. Releases before RFC 4180 quoting wrote file names
/// with commas unquoted: the last three fields are then the numbers.
pub fn read_scores_csv(text: &str) -> Vec<(String, f64, bool)> {
    crate::csvx::records(text)
        .into_iter()
        .skip(1)
        .filter_map(Result::ok)
        .filter_map(|r| {
            let n = r.fields.len();
            if n < 4 {
                return None;
            }
            let score = r.fields[n - 3].parse::<f64>().ok()?;
            Some((
                r.fields[..n - 3].join(","),
                score,
                r.fields[n - 2] == "anomaly",
            ))
        })
        .collect()
}

/// (epoch, loss) points.
pub type Curve = Vec<(usize, f64)>;

/// A plot drawer: Ok(false) when there is nothing to draw.
type Drawer<'a> = Box<dyn Fn(&Path) -> Result<bool, String> + 'a>;

/// Train and validation loss per epoch from an `events.jsonl`; a resumed run's
/// repeated epochs keep their last value, malformed lines are skipped.
pub fn loss_curves(events: &Path) -> (Curve, Curve) {
    let text = std::fs::read_to_string(events).unwrap_or_default();
    let mut train = std::collections::BTreeMap::new();
    let mut valid = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(event) = crate::records::EventRecord::parse(line.as_bytes()) else {
            continue;
        };
        let Some((epoch, split, loss)) = event.loss_point() else {
            continue;
        };
        match split {
            "train" => train.insert(epoch, loss),
            "valid" => valid.insert(epoch, loss),
            _ => None,
        };
    }
    (train.into_iter().collect(), valid.into_iter().collect())
}

/// A TrueType font for plot text: the first of the usual system fonts found.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        const CANDIDATES: [&str; 5] = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/Library/Fonts/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ];
        let from_env = std::env::var("EARSHOT_PLOT_FONT").ok();
        for path in from_env.iter().map(String::as_str).chain(CANDIDATES) {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

const SIZE: (u32, u32) = (800, 500);

/// Writes `dir/report.md` and `dir/plots/*.png`; returns the plot files written.
pub fn write_report(dir: &Path, input: &ReportInput) -> Result<Vec<PathBuf>, ReportError> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| ReportError::Io {
        path: plots.clone(),
        source,
    })?;
    let mut drawn = Vec::new();
    let mut problems = Vec::new();
    if font_ready() {
        let (train, valid) = loss_curves(&dir.join("events.jsonl"));
        let jobs: [(&str, Drawer); 3] = [
            ("loss.png", Box::new(|p| draw_losses(p, &train, &valid))),
            ("roc.png", Box::new(|p| draw_roc(p, input.scores))),
            (
                "scores.png",
                Box::new(|p| draw_histogram(p, input.scores, input.threshold)),
            ),
        ];
        for (name, draw) in jobs {
            let path = plots.join(name);
            match draw(&path) {
                Ok(true) => drawn.push(path),
                Ok(false) => {}
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    } else {
        problems.push(
            "no TrueType font found for plot text: install one (Debian: `apt-get install fonts-dejavu-core`) \
             or set EARSHOT_PLOT_FONT=/path/to/font.ttf"
                .into(),
        );
    }
    let md = markdown(input, &drawn, &problems);
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())
        .map_err(|source| ReportError::Io { path, source })?;
    Ok(drawn)
}

fn markdown(input: &ReportInput, drawn: &[PathBuf], problems: &[String]) -> String {
    let mut md = format!("# {}\n\n| metric | value |\n|---|---|\n", input.title);
    let metrics = serde_json::to_value(input.metrics).expect("records serialise");
    if let Some(map) = metrics.as_object() {
        for (k, v) in map {
            if k == "dcase" {
                continue; // its own table below
            }
            let text = match v {
                serde_json::Value::Number(n) => n
                    .as_f64()
                    .map(|f| format!("{f:.4}"))
                    .unwrap_or_else(|| n.to_string()),
                serde_json::Value::Null => "—".into(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            md.push_str(&format!("| {k} | {text} |\n"));
        }
    }
    if let Some(d) = &input.metrics.dcase {
        md.push_str(&dcase_table(d));
    }
    let (normal, anomaly) =
        input.scores.iter().fold(
            (0, 0),
            |(n, a), (_, is)| {
                if *is { (n, a + 1) } else { (n + 1, a) }
            },
        );
    md.push_str(&format!(
        "\nScored test clips: {normal} normal, {anomaly} anomalous (per clip in scores.csv).\n"
    ));
    if normal == 0 || anomaly == 0 {
        md.push_str("AUC and pAUC are undefined: the test split has only one class.\n");
    }
    for p in drawn {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("plot");
        md.push_str(&format!("\n![{name}](plots/{name})\n"));
    }
    for p in problems {
        md.push_str(&format!("\nNot drawn: {p}\n"));
    }
    md
}

fn draw_losses(
    path: &Path,
    train: &[(usize, f64)],
    valid: &[(usize, f64)],
) -> Result<bool, String> {
    let all: Vec<f64> = train
        .iter()
        .chain(valid)
        .map(|p| p.1)
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if all.is_empty() {
        return Ok(false);
    }
    let last = train
        .iter()
        .chain(valid)
        .map(|p| p.0)
        .max()
        .unwrap_or(1)
        .max(2);
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) * 0.9;
    let hi = all.iter().copied().fold(0.0, f64::max) * 1.1;
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("loss per epoch", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1usize..last, (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss (log)")
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v:.3}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (points, colour, label) in [(train, BLUE, "train"), (valid, RED, "validation")] {
        let series: Vec<(usize, f64)> = points.iter().copied().filter(|p| p.1 > 0.0).collect();
        chart
            .draw_series(LineSeries::new(series, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    finish(chart, &root)
}

/// Draws the legend and writes the file.
fn finish<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    mut chart: ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<bool, String>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}

fn draw_roc(path: &Path, scores: &[(f64, bool)]) -> Result<bool, String> {
    let (s, a): (Vec<f64>, Vec<bool>) = scores.iter().copied().unzip();
    let Some(curve) = roc_curve(&s, &a) else {
        return Ok(false);
    };
    let auc = roc_auc(&s, &a).unwrap_or(f64::NAN);
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("ROC, AUC = {auc:.3}"), ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            BLACK.mix(0.3),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}

fn draw_histogram(
    path: &Path,
    scores: &[(f64, bool)],
    threshold: Option<f64>,
) -> Result<bool, String> {
    if scores.is_empty() {
        return Ok(false);
    }
    const BINS: usize = 30;
    let values = scores.iter().map(|p| p.0).chain(threshold);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let width = ((hi - lo) / BINS as f64).max(1e-12);
    let mut counts = [[0u32; BINS]; 2];
    for &(s, anomalous) in scores {
        let bin = (((s - lo) / width) as usize).min(BINS - 1);
        counts[usize::from(anomalous)][bin] += 1;
    }
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("clip scores: normal vs anomaly", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..lo + width * BINS as f64, 0u32..top + 1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("clip score")
        .y_desc("clips")
        .draw()
        .map_err(|e| e.to_string())?;
    for (class, colour, label) in [(0, BLUE, "normal"), (1, RED, "anomaly")] {
        let bars = counts[class].iter().enumerate().map(move |(b, &n)| {
            let x0 = lo + b as f64 * width;
            Rectangle::new([(x0, 0), (x0 + width, n)], colour.mix(0.45).filled())
        });
        chart
            .draw_series(bars)
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour.mix(0.45).filled())
            });
    }
    if let Some(t) = threshold {
        chart
            .draw_series(LineSeries::new(
                vec![(t, 0), (t, top + 1)],
                BLACK.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("threshold {t:.3}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    finish(chart, &root)
}

/// The DCASE figures of a 2021-2025 dataset as a markdown table.
fn dcase_table(d: &crate::eval::dcase::DcaseMetrics) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "undefined".to_string(), |v| format!("{v:.4}"));
    let mut md = format!(
        "\n## DCASE {} ({})\n\n| section | files | AUC (source) | AUC (target) | pAUC |\n|---|---|---|---|---|\n",
        d.year, d.machine
    );
    for s in &d.sections {
        let pauc = match (s.pauc, s.pauc_source, s.pauc_target) {
            (Some(p), _, _) => format!("{p:.4}"),
            (None, a, b) => format!("{} (source), {} (target)", f(a), f(b)),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {pauc} |\n",
            s.section,
            s.files,
            f(s.auc_source),
            f(s.auc_target)
        ));
    }
    md.push_str(&format!(
        "\nOfficial score (harmonic mean of every AUC and pAUC): {}; harmonic means: AUC (source) {}, AUC (target) {}, pAUC {}. Submission files in dcase/.\n",
        f(d.official_score),
        f(d.hmean_auc_source),
        f(d.hmean_auc_target),
        f(d.hmean_pauc)
    ));
    for u in &d.undefined {
        md.push_str(&format!("Undefined: {u}.\n"));
    }
    md
}
