//! `earshot bench train`: the three autoencoders of shared/bench/peer_train.py,
//! same shapes, same optimiser (Adam 1e-3, MSE, batch 64), timed per sample;
//! and, on request (`--only vae,gru`), the dense VAE at the dense AE's shapes
//! and the GRU autoencoder at the LSTM's (no peers: for their own throughput
//! and dispatch counts).

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use clap::Args;
use earshot::models::{CaeConfig, DenseConfig, ModelConfig, RnnConfig, VaeConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct TrainBenchArgs {
    /// Training samples per model (after a warm-up of 4 batches).
    #[arg(long, default_value_t = 8192)]
    samples: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Print one JSON object (keys dense, rnn, cae: samples per second).
    #[arg(long)]
    json: bool,
    /// Where to train.
    #[arg(long, default_value_t = DeviceChoice::Cpu, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
    /// Only these models (comma-separated: dense,rnn,cae; vae and gru on request).
    #[arg(long, default_value = "dense,rnn,cae")]
    only: String,
    /// Also count GPU kernel dispatches per training step (wgpu): each model
    /// runs three more times in child processes with cubecl's kernel log on:
    /// once to fill cubecl's autotune cache, then for --samples and
    /// 2 x --samples, and the difference is divided by the extra steps
    /// (warm-up cancels out).
    #[arg(long)]
    dispatches: bool,
}

/// (name, model, frames, coeffs) as peer_train.py builds them.
fn peers() -> Vec<(&'static str, ModelConfig, usize, usize)> {
    vec![
        // 640 inputs = 5 frames x 128 log-mel; 128 x 4, bottleneck 8.
        ("dense", ModelConfig::Dense(DenseConfig::default()), 5, 128),
        // 32 frames x 20 MFCC, LSTM hidden 64, latent 16.
        ("rnn", ModelConfig::Rnn(RnnConfig::default()), 32, 20),
        // 1 x 20 x 32 patches, conv 16/32 stride 2.
        ("cae", ModelConfig::Cae(CaeConfig::default()), 32, 20),
        // Not in peer_train.py: the default (dense) VAE on the dense AE's 640
        // inputs, and the GRU autoencoder at the LSTM's shapes.
        ("vae", ModelConfig::Vae(VaeConfig::default()), 5, 128),
        (
            "gru",
            ModelConfig::Rnn(RnnConfig {
                cell: earshot::models::Cell::Gru,
                ..RnnConfig::default()
            }),
            32,
            20,
        ),
    ]
}

/// Untimed steps first: compilation, autotuning, and burn's fusion settling
/// on its plans (on wgpu the fifth step still compiles kernels).
const WARM_UP_STEPS: usize = 8;

pub fn run(args: TrainBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.samples >= args.batch && args.batch > 0,
        "--samples must be >= --batch > 0"
    );
    anyhow::ensure!(
        !args.dispatches || matches!(args.device, DeviceChoice::Wgpu(_)),
        "--dispatches counts GPU kernels: use it with --device wgpu (or wgpu:N)"
    );
    let (device, device_name) = args.device.resolve_training()?;
    let autodiff = device.clone().autodiff();
    let mut results = serde_json::Map::new();
    results.insert("device".into(), device_name.clone().into());
    results.insert("batch".into(), args.batch.into());
    results.insert("threads".into(), rayon::current_num_threads().into());
    if args.dispatches {
        // One child runs every model first and fills cubecl's autotune cache,
        // shared by the processes: on a cold cache the two counting runs of a
        // model would also launch autotune's candidate kernels, as many as the
        // race between them lets each do (the VAE counted 64 instead of 49 on a
        // fresh machine). One process for all models: each costs seconds of
        // pipeline compilation on lavapipe.
        dispatches(&args, &args.only, args.samples)?;
    }
    for (name, config, frames, coeffs) in peers() {
        if !args.only.split(',').any(|o| o.trim() == name) {
            continue;
        }
        autodiff.seed(0);
        let mut rng = StdRng::seed_from_u64(0);
        let normal = Normal::new(0.0f32, 1.0)?;
        // Enough rows for the timed run and for the warm-up batches.
        let rows = args.samples.max(WARM_UP_STEPS * args.batch);
        let data: Vec<f32> = (0..rows * frames * coeffs)
            .map(|_| normal.sample(&mut rng))
            .collect();
        let mut model = config
            .init(frames, coeffs, &autodiff)
            .expect("the bench trains autoencoders only");
        let mut optim = earshot::train::TrainOptimizer::adam(&autodiff, None);
        let mut epoch = |count: usize, model: &mut earshot::models::Autoencoder| -> f32 {
            // No placeholder tensor: a fresh one each pass made burn's
            // fusion re-plan (and recompile, ~3 s on lavapipe) the next step.
            let mut last = None;
            for start in (0..count).step_by(args.batch) {
                let b = args.batch.min(count - start);
                let slice = data[start * frames * coeffs..(start + b) * frames * coeffs].to_vec();
                let x =
                    Tensor::<3>::from_data(TensorData::new(slice, [b, frames, coeffs]), &autodiff);
                // The VAE samples its code as in training (fixed noise: same work).
                let noise = model
                    .noise_dim()
                    .map(|d| Tensor::<2>::ones([b, d], &autodiff) * 0.5);
                let loss = model.loss(x, noise, 1.0);
                last = Some(loss.clone().detach());
                let grads = GradientsParams::from_grads(loss.backward(), &*model);
                *model = optim.step(1e-3, model.clone(), grads);
            }
            // Reading the loss waits for the device to finish the queued work.
            last.expect("at least one batch").into_scalar::<f32>()
        };
        epoch(args.batch * WARM_UP_STEPS, &mut model);
        let started = Instant::now();
        let loss = epoch(args.samples, &mut model);
        let seconds = started.elapsed().as_secs_f64();
        let rate = args.samples as f64 / seconds;
        if !args.json {
            println!(
                "earshot {device_name} {name:6} {rate:10.0} samples/s  ({seconds:.2} s, loss {loss:.3})"
            );
        }
        results.insert(name.into(), rate.into());
        if args.dispatches {
            let per_step = dispatches_per_step(&args, name)?;
            if !args.json {
                println!("earshot {device_name} {name:6} {per_step:10.1} dispatches/step");
            }
            results.insert(format!("{name}_dispatches_per_step"), per_step.into());
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Object(results));
    }
    if std::env::var_os(COUNTING).is_some() {
        wait_for_kernel_log();
    }
    Ok(())
}

/// Set in the counting child: it waits for cubecl's log before exiting.
const COUNTING: &str = "EARSHOT_COUNTING_DISPATCHES";

/// cubecl writes its kernel log from a background task: lines still queued
/// when the process exits are lost. Waits until `kernels.log` stops growing.
fn wait_for_kernel_log() {
    let size = || {
        std::fs::metadata("kernels.log")
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let mut last = size();
    let mut stable = 0;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = size();
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable >= 6 {
            break;
        }
    }
}

/// Kernel launches in one run of `model` (an `--only` list) over `samples`, from cubecl's
/// profiling log (level "minimal": one `Executing <kernel>` line a launch)
/// written by a child process in a scratch folder.
fn dispatches(args: &TrainBenchArgs, model: &str, samples: usize) -> anyhow::Result<usize> {
    use anyhow::Context;
    let scratch = tempfile_dir(samples)?;
    std::fs::write(
        scratch.join("cubecl.toml"),
        "[profiling]\nlogger = { level = \"minimal\", file = \"kernels.log\" }\n",
    )?;
    let exe = std::env::current_exe().context("finding the earshot binary")?;
    let out = std::process::Command::new(exe)
        .current_dir(&scratch)
        .env(COUNTING, "1")
        .args(["bench", "train", "--json", "--only", model])
        .args(["--device", &args.device.to_string()])
        .args(["--batch", &args.batch.to_string()])
        .args(["--samples", &samples.to_string()])
        .output()
        .context("running the counting child")?;
    anyhow::ensure!(
        out.status.success(),
        "the counting run of {model} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(scratch.join("kernels.log"))
        .context("reading cubecl's kernel log")?;
    let count = log.lines().filter(|l| l.starts_with("Executing")).count();
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(count)
}

/// Dispatches per training step of `model` (see [`dispatches`]).
fn dispatches_per_step(args: &TrainBenchArgs, model: &str) -> anyhow::Result<f64> {
    // The autotune cache is warm (see `run`). The two counting runs are independent processes: run side by side.
    let (once, twice) = std::thread::scope(|s| {
        let twice = s.spawn(|| dispatches(args, model, 2 * args.samples));
        let once = dispatches(args, model, args.samples);
        (
            once,
            twice.join().expect("the counting thread does not panic"),
        )
    });
    let (once, twice) = (once?, twice?);
    let extra_steps = args.samples.div_ceil(args.batch);
    Ok(twice.saturating_sub(once) as f64 / extra_steps as f64)
}

/// A fresh scratch folder under the system's temporary folder (one per
/// concurrent counting run).
fn tempfile_dir(samples: usize) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "earshot-dispatches-{}-{samples}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
