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

/// Writes a checkpoint for `state.epochs_done` under `dir` and prunes old ones.
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
    let mut all = list(dir)?;
    while all.len() > KEEP {
        let (_, old) = all.remove(0);
        let _ = fs::remove_dir_all(old);
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

/// The newest complete checkpoint under `dir`, if any.
pub fn latest(dir: &Path) -> std::io::Result<Option<Checkpoint>> {
    let Some((_, path)) = list(dir)?.pop() else {
        return Ok(None);
    };
    let state: LoopState =
        serde_json::from_slice(&fs::read(path.join("state.json"))?).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
    Ok(Some(Checkpoint {
        model: fs::read(path.join("model.bin"))?,
        optimizer: fs::read(path.join("optimizer.bin"))?,
        state,
    }))
}
