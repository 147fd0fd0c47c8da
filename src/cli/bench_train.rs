//! `earshot bench train`: the three autoencoders of shared/bench/peer_train.py,
//! same shapes, same optimiser (Adam 1e-3, MSE, batch 64), timed per sample.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use clap::Args;
use earshot::models::{CaeConfig, DenseConfig, ModelConfig, RnnConfig};
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
    /// Only these models (comma-separated: dense,rnn,cae).
    #[arg(long, default_value = "dense,rnn,cae")]
    only: String,
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
    ]
}

pub fn run(args: TrainBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.samples >= args.batch && args.batch > 0,
        "--samples must be >= --batch > 0"
    );
    let (device, device_name) = args.device.resolve_training()?;
    let autodiff = device.clone().autodiff();
    let mut results = serde_json::Map::new();
    results.insert("device".into(), device_name.clone().into());
    results.insert("batch".into(), args.batch.into());
    results.insert("threads".into(), rayon::current_num_threads().into());
    for (name, config, frames, coeffs) in peers() {
        if !args.only.split(',').any(|o| o.trim() == name) {
            continue;
        }
        autodiff.seed(0);
        let mut rng = StdRng::seed_from_u64(0);
        let normal = Normal::new(0.0f32, 1.0)?;
        let data: Vec<f32> = (0..args.samples * frames * coeffs)
            .map(|_| normal.sample(&mut rng))
            .collect();
        let mut model = config
            .init(frames, coeffs, &autodiff)
            .expect("the bench trains autoencoders only");
        let mut optim = earshot::train::fused_adam::adam_for(&autodiff, None);
        let mut epoch = |count: usize, model: &mut earshot::models::Autoencoder| -> f32 {
            let mut last = Tensor::<1>::zeros([1], &autodiff);
            for start in (0..count).step_by(args.batch) {
                let b = args.batch.min(count - start);
                let slice = data[start * frames * coeffs..(start + b) * frames * coeffs].to_vec();
                let x =
                    Tensor::<3>::from_data(TensorData::new(slice, [b, frames, coeffs]), &autodiff);
                let loss = model.loss(x, None, 0.0);
                last = loss.clone().detach();
                let grads = GradientsParams::from_grads(loss.backward(), &*model);
                *model = optim.step(1e-3, model.clone(), grads);
            }
            // Reading the loss waits for the device to finish the queued work.
            last.into_scalar::<f32>()
        };
        epoch(args.batch * 4, &mut model);
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
    }
    if args.json {
        println!("{}", serde_json::Value::Object(results));
    }
    Ok(())
}
