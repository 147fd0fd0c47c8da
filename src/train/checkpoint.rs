//! Checkpoints: the model, the optimiser state and the loop's counters after an
//! epoch, written to a temporary folder and renamed so a crash never leaves
//! half a checkpoint; `--resume` continues from the newest.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Checkpoints kept on disk (older ones are deleted).
const KEEP: usize = 2;

/// The loop's counters at the end of an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Best validation loss so far.
    pub best_valid: f64,
    /// Epoch (1-based) of the best validation loss.
    pub best_epoch: usize,
    /// Last training loss.
    pub last_train: f64,
    /// The run these counters belong to (absent in checkpoints written before run ids).
    #[serde(default)]
    pub run_id: Option<String>,
}

/// A checkpoint's bytes.
pub struct Checkpoint {
    /// `ModuleRecord` bytes.
    pub model: Vec<u8>,
    /// `OptimizerRecord` bytes.
    pub optimizer: Vec<u8>,
    /// Counters.
    pub state: LoopState,
}

fn epoch_dir(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch:05}"))
}

/// Writes a checkpoint for `state.epochs_done` under `dir` and prunes this
/// run's older ones (another run's checkpoints are never touched).
pub fn save(dir: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let final_dir = epoch_dir(dir, checkpoint.state.epochs_done);
    let tmp = dir.join(format!(".partial-{}", checkpoint.state.epochs_done));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    fs::write(tmp.join("model.bin"), &checkpoint.model)?;
    fs::write(tmp.join("optimizer.bin"), &checkpoint.optimizer)?;
    fs::write(
        tmp.join("state.json"),
        serde_json::to_vec_pretty(&checkpoint.state).map_err(std::io::Error::other)?,
    )?;
    let _ = fs::remove_dir_all(&final_dir);
    fs::rename(&tmp, &final_dir)?;
    let run = checkpoint.state.run_id.as_deref();
    let mut ours: Vec<PathBuf> = list(dir)?
        .into_iter()
        .filter(|(_, path)| read_state(path).is_ok_and(|s| s.run_id.as_deref() == run))
        .map(|(_, path)| path)
        .collect();
    while ours.len() > KEEP {
        let _ = fs::remove_dir_all(ours.remove(0));
    }
    Ok(())
}

/// Complete checkpoints under `dir`, oldest first.
fn list(dir: &Path) -> std::io::Result<Vec<(usize, PathBuf)>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let epoch = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(epoch) = epoch
            && path.join("state.json").is_file()
        {
            found.push((epoch, path));
        }
    }
    found.sort();
    Ok(found)
}

fn read_state(path: &Path) -> std::io::Result<LoopState> {
    serde_json::from_slice(&fs::read(path.join("state.json"))?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// The newest complete checkpoint under `dir` that belongs to run `run_id`
/// (`None` also takes checkpoints written before run ids existed). A newer
/// checkpoint of another run is never taken: resuming continues this run only.
pub fn latest(dir: &Path, run_id: Option<&str>) -> std::io::Result<Option<Checkpoint>> {
    let mut found = None;
    for (_, path) in list(dir)?.into_iter().rev() {
        let state = read_state(&path)?;
        if state.run_id.is_none() || state.run_id.as_deref() == run_id {
            found = Some((path, state));
            break;
        }
    }
    let Some((path, state)) = found else {
        return Ok(None);
    };
    Ok(Some(Checkpoint {
        model: fs::read(path.join("model.bin"))?,
        optimizer: fs::read(path.join("optimizer.bin"))?,
        state,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(epoch: usize, run: &str) -> Checkpoint {
        Checkpoint {
            model: vec![epoch as u8],
            optimizer: vec![],
            state: LoopState {
                epochs_done: epoch,
                best_valid: 1.0,
                best_epoch: epoch,
                last_train: 1.0,
                run_id: Some(run.into()),
            },
        }
    }

    #[test]
    fn resume_takes_only_its_own_runs_checkpoints_and_pruning_spares_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // An older, longer run left epochs 9 and 10 behind.
        save(dir, &checkpoint(9, "old")).unwrap();
        save(dir, &checkpoint(10, "old")).unwrap();
        for epoch in 1..=4 {
            save(dir, &checkpoint(epoch, "new")).unwrap();
        }
        let names: Vec<usize> = list(dir).unwrap().into_iter().map(|(e, _)| e).collect();
        assert_eq!(names, vec![3, 4, 9, 10], "two of each run kept");
        let newest = latest(dir, Some("new")).unwrap().unwrap();
        assert_eq!(newest.state.epochs_done, 4);
        assert_eq!(newest.model, vec![4]);
        assert_eq!(
            latest(dir, Some("old")).unwrap().unwrap().state.epochs_done,
            10
        );
        assert!(latest(dir, Some("third")).unwrap().is_none());
    }
}
