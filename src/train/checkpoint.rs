//! Checkpoints: the model, the optimiser state and the loop's counters after an
//! epoch, written to a temporary folder and renamed so a crash never leaves
//! half a checkpoint; `--resume` continues from the newest intact one. Each
//! carries the SHA-256 of its files (`sha256sums`): a checkpoint truncated,
//! zeroed or flipped on disk is found before its bytes are decoded, and the
//! one before it is taken instead.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    let state = serde_json::to_vec_pretty(&checkpoint.state).map_err(std::io::Error::other)?;
    let files: [(&str, &[u8]); 3] = [
        ("model.bin", &checkpoint.model),
        ("optimizer.bin", &checkpoint.optimizer),
        ("state.json", &state),
    ];
    let mut sums = String::new();
    for (name, bytes) in files {
        fs::write(tmp.join(name), bytes)?;
        sums.push_str(&format!("{}  {name}\n", sha256_hex(bytes)));
    }
    fs::write(tmp.join(SUMS), sums)?;
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

/// The file of a checkpoint that lists its files' SHA-256 (`sha256sum` format).
const SUMS: &str = "sha256sums";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What resuming found: the checkpoint to continue from, and the newer ones
/// of the run that were passed over as damaged (epoch, why).
#[derive(Default)]
pub struct Resumable {
    /// The newest intact checkpoint of the run.
    pub checkpoint: Option<Checkpoint>,
    /// Damaged checkpoints skipped, newest first.
    pub damaged: Vec<(usize, String)>,
}

/// Reads and verifies one checkpoint folder: every file listed in
/// `sha256sums` must hash to its entry. A checkpoint written before sums
/// were kept is taken as it is.
fn read_verified(path: &Path) -> Result<Checkpoint, String> {
    let read = |name: &str| fs::read(path.join(name)).map_err(|e| format!("{name}: {e}"));
    let (model, optimizer, state_bytes) = (
        read("model.bin")?,
        read("optimizer.bin")?,
        read("state.json")?,
    );
    match fs::read_to_string(path.join(SUMS)) {
        Ok(sums) => {
            for (name, bytes) in [
                ("model.bin", &model),
                ("optimizer.bin", &optimizer),
                ("state.json", &state_bytes),
            ] {
                let listed = sums.lines().find_map(|l| {
                    l.split_once("  ")
                        .filter(|(_, n)| *n == name)
                        .map(|(h, _)| h)
                });
                match listed {
                    Some(hex) if hex == sha256_hex(bytes) => {}
                    Some(_) => {
                        return Err(format!(
                            "{name} does not match its SHA-256 (damaged on disk)"
                        ));
                    }
                    None => return Err(format!("{SUMS} has no entry for {name}")),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{SUMS}: {e}")),
    }
    let state: LoopState =
        serde_json::from_slice(&state_bytes).map_err(|e| format!("state.json: {e}"))?;
    Ok(Checkpoint {
        model,
        optimizer,
        state,
    })
}

/// The newest intact checkpoint under `dir` that belongs to run `run_id`
/// (`None` also takes checkpoints written before run ids existed), and the
/// newer ones of the run passed over as damaged. A newer checkpoint of
/// another run is never taken: resuming continues this run only.
pub fn latest(dir: &Path, run_id: Option<&str>) -> std::io::Result<Resumable> {
    let mut found = Resumable::default();
    for (epoch, path) in list(dir)?.into_iter().rev() {
        // A state.json that cannot be read says nothing of its run: verify it as a candidate.
        let theirs = read_state(&path)
            .ok()
            .is_some_and(|s| s.run_id.is_some() && s.run_id.as_deref() != run_id);
        if theirs {
            continue;
        }
        match read_verified(&path) {
            Ok(checkpoint) => {
                found.checkpoint = Some(checkpoint);
                break;
            }
            Err(why) => found.damaged.push((epoch, why)),
        }
    }
    Ok(found)
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
        let newest = latest(dir, Some("new")).unwrap().checkpoint.unwrap();
        assert_eq!(newest.state.epochs_done, 4);
        assert_eq!(newest.model, vec![4]);
        assert_eq!(
            latest(dir, Some("old"))
                .unwrap()
                .checkpoint
                .unwrap()
                .state
                .epochs_done,
            10
        );
        assert!(latest(dir, Some("third")).unwrap().checkpoint.is_none());
    }

    #[test]
    fn a_damaged_newest_checkpoint_falls_back_to_the_one_before() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for epoch in 1..=2 {
            save(dir, &checkpoint(epoch, "r")).unwrap();
        }
        // A bit flip in the newest model: caught by its checksum, epoch 1 taken.
        let model = epoch_dir(dir, 2).join("model.bin");
        let mut bytes = fs::read(&model).unwrap();
        bytes[0] ^= 0x10;
        fs::write(&model, bytes).unwrap();
        let found = latest(dir, Some("r")).unwrap();
        assert_eq!(found.checkpoint.unwrap().state.epochs_done, 1);
        assert_eq!(found.damaged.len(), 1);
        assert_eq!(found.damaged[0].0, 2);
        assert!(
            found.damaged[0].1.contains("model.bin"),
            "{:?}",
            found.damaged
        );
        // Both damaged (truncated, and a state.json of random bytes): none intact.
        fs::write(epoch_dir(dir, 1).join("model.bin"), b"").unwrap();
        fs::write(epoch_dir(dir, 2).join("state.json"), [0xffu8, 0x00, 0x13]).unwrap();
        let found = latest(dir, Some("r")).unwrap();
        assert!(found.checkpoint.is_none());
        assert_eq!(
            found.damaged.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }
}
