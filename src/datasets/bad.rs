//! The Bird Audio Detection sets into one `bad` folder: every clip as
//! `<itemid>.wav` and one `labels.csv` (`itemid,datasetid,hasbird`), what
//! `layout = "bad"` reads. Sets are added one at a time (each is a separate
//! archive of several GB); `labels.csv` is rewritten atomically after a set's
//! clips are in place, so a clip appears in it only once its file is there,
//! and `.earshot-bad-sets` lists the sets prepared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::extract::{UnpackLimits, extract_archive_with};
use super::prepare::{Outcome, PrepareError, existing, settle};
use crate::fsx::{GENERATED_MARKER, mark_generated, write_atomic};

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
    limits: UnpackLimits,
) -> Result<Outcome, PrepareError> {
    let target = data.join("bad");
    let marker = target.join(BAD_MARKER);
    roll_back_pending(&target)?;
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
    let labels_path = target.join("labels.csv");
    let earlier = if labels_path.is_file() {
        read_labels(&labels_path)?
    } else {
        Vec::new()
    };
    refuse_collisions(name, &rows, &earlier, &target, labels)?;
    std::fs::create_dir_all(&target).map_err(io_err(&target))?;
    let unpacked = data.join(format!(".bad-{name}-unpacked-{}", std::process::id()));
    extract_archive_with(archive, &unpacked, limits)?;
    let result = move_clips(&unpacked, &target, &rows, archive, name);
    let _ = std::fs::remove_dir_all(&unpacked);
    let present = match result {
        Ok(present) => present,
        Err(e) => {
            roll_back_pending(&target)?;
            return Err(e);
        }
    };

    // Rows of other sets stay (no item id is in two sets: refused above).
    let birds = present.iter().filter(|r| r.hasbird == "1").count();
    let missing = rows.len() - present.len();
    let mut merged = earlier;
    merged.extend(present.iter().cloned());
    write_labels(&labels_path, &merged)?;
    let mut sets = prepared;
    sets.push_str(name);
    sets.push('\n');
    write_atomic(&marker, sets.as_bytes()).map_err(io_err(&marker))?;
    // Labels and marker are in place: the moved clips are now the set's.
    let pending = target.join(PENDING);
    std::fs::remove_file(&pending).map_err(io_err(&pending))?;
    Ok(Outcome::Built(target, [present.len(), birds, missing]))
}

/// The journal of a set being added: its name, then each clip moved in. It
/// exists only while clips are moved; a run that finds it (the last one was
/// killed) removes the clips it lists that no labels row claims.
pub const PENDING: &str = ".earshot-bad-pending";

/// Undoes a set addition that was killed half-way; the clips removed.
fn roll_back_pending(target: &Path) -> Result<usize, PrepareError> {
    let pending = target.join(PENDING);
    let Ok(text) = std::fs::read_to_string(&pending) else {
        return Ok(0);
    };
    let labels_path = target.join("labels.csv");
    let claimed: std::collections::HashSet<String> = if labels_path.is_file() {
        read_labels(&labels_path)?
            .into_iter()
            .map(|r| r.item)
            .collect()
    } else {
        Default::default()
    };
    let mut lines = text.lines();
    let set = lines.next().unwrap_or("?").to_string();
    let mut removed = 0;
    for item in lines.filter(|i| !i.is_empty() && !claimed.contains(*i)) {
        let clip = target.join(format!("{item}.wav"));
        if clip.is_file() {
            std::fs::remove_file(&clip).map_err(io_err(&clip))?;
            removed += 1;
        }
    }
    std::fs::remove_file(&pending).map_err(io_err(&pending))?;
    tracing::warn!(
        "{}: an earlier run adding {set} was stopped half-way; its {removed} moved clips were removed, adding it again",
        target.display()
    );
    // A first set killed before its marker existed leaves an empty folder of ours.
    if !target.join(BAD_MARKER).is_file() && !labels_path.is_file() {
        let _ = std::fs::remove_file(target.join(GENERATED_MARKER));
        let _ = std::fs::remove_dir(target);
    }
    Ok(removed)
}

/// Refuses a set whose item ids are already in the folder (another set's
/// clip would be overwritten and relabelled), naming a few.
fn refuse_collisions(
    name: &str,
    rows: &[Row],
    earlier: &[Row],
    target: &Path,
    labels: &Path,
) -> Result<(), PrepareError> {
    let taken: HashMap<&str, &str> = earlier
        .iter()
        .map(|r| (r.item.as_str(), r.dataset.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut clashes = Vec::new();
    for row in rows {
        if !seen.insert(row.item.as_str()) {
            clashes.push(format!("{} (twice in this labels file)", row.item));
        } else if let Some(set) = taken.get(row.item.as_str()) {
            clashes.push(format!("{} (already there from {set})", row.item));
        } else if target.join(format!("{}.wav", row.item)).exists() {
            clashes.push(format!(
                "{} (a file of that name is in the folder)",
                row.item
            ));
        }
    }
    if clashes.is_empty() {
        return Ok(());
    }
    let n = clashes.len();
    clashes.truncate(5);
    Err(PrepareError::Content {
        path: labels.to_path_buf(),
        reason: format!(
            "{n} item ids of {name} collide with clips already in {} (e.g. {}); nothing was changed. \
             Prepare this set into another data folder (--to DIR)",
            target.display(),
            clashes.join(", ")
        ),
    })
}

/// Moves the clip of every row found in `unpacked` to `target/<itemid>.wav`;
/// the rows whose clip was found.
fn move_clips(
    unpacked: &Path,
    target: &Path,
    rows: &[Row],
    archive: &Path,
    set: &str,
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
    // The journal lists every clip before any moves, so a kill at any point is undone.
    let mut journal = format!("{set}\n");
    for row in rows.iter().filter(|r| clips.contains_key(&r.item)) {
        journal.push_str(&row.item);
        journal.push('\n');
    }
    let pending = target.join(PENDING);
    write_atomic(&pending, journal.as_bytes()).map_err(io_err(&pending))?;
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
pub fn prepare_bad_test(
    archive: &Path,
    data: &Path,
    limits: UnpackLimits,
) -> Result<Outcome, PrepareError> {
    let target = data.join("bad-test");
    if let Some(done) = existing(&target)? {
        return Ok(done);
    }
    std::fs::create_dir_all(data).map_err(io_err(data))?;
    let unpacked = data.join(format!(".bad-test-unpacked-{}", std::process::id()));
    let staging = data.join(format!(".bad-test.partial-{}", std::process::id()));
    let result = extract_archive_with(archive, &unpacked, limits)
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
