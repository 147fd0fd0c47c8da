//! The Bird Audio Detection sets into one `bad` folder: every clip as
//! `<itemid>.wav` and one `labels.csv` (`itemid,datasetid,hasbird`), what
//! `layout = "bad"` reads. Sets are added one at a time (each is a separate
//! archive of several GB); `labels.csv` is rewritten atomically after a set's
//! clips are in place, so a clip appears in it only once its file is there,
//! and `.earshot-bad-sets` lists the sets prepared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::extract::extract_archive;
use super::prepare::{Outcome, PrepareError, existing, settle};
use crate::fsx::{mark_generated, write_atomic};

/// The sets prepared in a `bad` folder, one name per line.
pub const BAD_MARKER: &str = ".earshot-bad-sets";

const HEADER: &str = "itemid,datasetid,hasbird";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PrepareError + '_ {
    move |e| PrepareError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// One labels row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    item: String,
    dataset: String,
    hasbird: String,
}

/// The rows of a labels CSV with the challenge's header.
fn read_labels(path: &Path) -> Result<Vec<Row>, PrepareError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or("")
        .trim_start_matches('\u{feff}')
        .trim();
    if !header.eq_ignore_ascii_case(HEADER) {
        return Err(PrepareError::Content {
            path: path.to_path_buf(),
            reason: format!(
                "first line is {header:?}, expected {HEADER:?}; is this a BAD labels file?"
            ),
        });
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [item, dataset, hasbird] = fields[..] else {
            return Err(PrepareError::Content {
                path: path.to_path_buf(),
                reason: format!("line {}: expected 3 fields, got {}", n + 2, fields.len()),
            });
        };
        rows.push(Row {
            item: item.to_string(),
            dataset: dataset.to_string(),
            hasbird: hasbird.to_string(),
        });
    }
    Ok(rows)
}

fn write_labels(path: &Path, rows: &[Row]) -> Result<(), PrepareError> {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(&format!("{},{},{}\n", r.item, r.dataset, r.hasbird));
    }
    write_atomic(path, text.as_bytes()).map_err(io_err(path))
}

/// Adds set `name` (its WAV archive and labels CSV) to `data/bad`. The
/// outcome's counts: clips added, of them with birds, rows without audio.
pub fn prepare_bad(
    name: &str,
    archive: &Path,
    labels: &Path,
    data: &Path,
) -> Result<Outcome, PrepareError> {
    let target = data.join("bad");
    let marker = target.join(BAD_MARKER);
    let prepared = std::fs::read_to_string(&marker).unwrap_or_default();
    if prepared.lines().any(|l| l == name) {
        return Ok(Outcome::AlreadyThere(target));
    }
    let in_use = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some());
    if in_use && !marker.is_file() {
        return Err(PrepareError::Io {
            path: target,
            reason: "exists and was not prepared by earshot; move it or choose another --to".into(),
        });
    }
    let rows = read_labels(labels)?;
    std::fs::create_dir_all(&target).map_err(io_err(&target))?;
    let unpacked = data.join(format!(".bad-{name}-unpacked-{}", std::process::id()));
    extract_archive(archive, &unpacked)?;
    let result = move_clips(&unpacked, &target, &rows, archive);
    let _ = std::fs::remove_dir_all(&unpacked);
    let present = result?;

    // Rows of other sets stay; this set's rows are those whose clip is here.
    let labels_path = target.join("labels.csv");
    let mut merged: Vec<Row> = if labels_path.is_file() {
        read_labels(&labels_path)?
            .into_iter()
            .filter(|r| !present.iter().any(|p| p.item == r.item))
            .collect()
    } else {
        Vec::new()
    };
    let birds = present.iter().filter(|r| r.hasbird == "1").count();
    let missing = rows.len() - present.len();
    merged.extend(present.iter().cloned());
    write_labels(&labels_path, &merged)?;
    let mut sets = prepared;
    sets.push_str(name);
    sets.push('\n');
    write_atomic(&marker, sets.as_bytes()).map_err(io_err(&marker))?;
    Ok(Outcome::Built(target, [present.len(), birds, missing]))
}

/// Moves the clip of every row found in `unpacked` to `target/<itemid>.wav`;
/// the rows whose clip was found.
fn move_clips(
    unpacked: &Path,
    target: &Path,
    rows: &[Row],
    archive: &Path,
) -> Result<Vec<Row>, PrepareError> {
    let mut clips: HashMap<String, PathBuf> = HashMap::new();
    for entry in walkdir::WalkDir::new(unpacked).into_iter().flatten() {
        let path = entry.path();
        if entry.file_type().is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            clips.insert(stem.to_string(), path.to_path_buf());
        }
    }
    if clips.is_empty() {
        return Err(PrepareError::Content {
            path: archive.to_path_buf(),
            reason: "no .wav files inside; is this a Bird Audio Detection archive?".into(),
        });
    }
    let mut present = Vec::new();
    for row in rows {
        // Item ids name files in one folder: nothing that could leave it.
        let plain =
            !row.item.is_empty() && !row.item.contains(['/', '\\']) && !row.item.starts_with('.');
        if let (true, Some(from)) = (plain, clips.get(&row.item)) {
            let to = target.join(format!("{}.wav", row.item));
            std::fs::rename(from, &to).map_err(io_err(&to))?;
            present.push(row.clone());
        }
    }
    Ok(present)
}

/// Unpacks the challenge's test archive (Chernobyl and warblrb10k clips,
/// labels held back by the organisers) into `data/bad-test/<itemid>.wav`,
/// built beside it and renamed in when complete. The count: clips.
pub fn prepare_bad_test(archive: &Path, data: &Path) -> Result<Outcome, PrepareError> {
    let target = data.join("bad-test");
    if let Some(done) = existing(&target)? {
        return Ok(done);
    }
    std::fs::create_dir_all(data).map_err(io_err(data))?;
    let unpacked = data.join(format!(".bad-test-unpacked-{}", std::process::id()));
    let staging = data.join(format!(".bad-test.partial-{}", std::process::id()));
    let result = extract_archive(archive, &unpacked)
        .map_err(PrepareError::from)
        .and_then(|_| move_all_clips(&unpacked, &staging, archive));
    let _ = std::fs::remove_dir_all(&unpacked);
    let count = settle(result, &staging, &target)?;
    Ok(Outcome::Built(target, [count, 0, 0]))
}

/// Moves every `.wav` under `unpacked` to `staging/<name>.wav` and marks the
/// folder as earshot's; two clips of one name are refused.
fn move_all_clips(unpacked: &Path, staging: &Path, archive: &Path) -> Result<usize, PrepareError> {
    std::fs::create_dir_all(staging).map_err(io_err(staging))?;
    let mut written = Vec::new();
    for entry in walkdir::WalkDir::new(unpacked).sort_by_file_name() {
        let entry = entry.map_err(|e| PrepareError::Io {
            path: unpacked.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = entry.path();
        let is_wav = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if !entry.file_type().is_file() || !is_wav {
            continue;
        }
        let name = PathBuf::from(entry.file_name());
        let to = staging.join(&name);
        if to.exists() {
            return Err(PrepareError::Content {
                path: archive.to_path_buf(),
                reason: format!("two clips named {} inside", name.display()),
            });
        }
        std::fs::rename(path, &to).map_err(io_err(&to))?;
        written.push(name);
    }
    if written.is_empty() {
        return Err(PrepareError::Content {
            path: archive.to_path_buf(),
            reason: "no .wav files inside; is this the Bird Audio Detection test archive?".into(),
        });
    }
    mark_generated(staging, &written).map_err(io_err(staging))?;
    Ok(written.len())
}
