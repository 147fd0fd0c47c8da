//! `earshot bench gmm`: fitting the reference Gaussian mixture on the frames
//! that `tests/reference/peer_gmm.py` writes and fits with scikit-learn.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use earshot::models::reference::{CovarianceKind, FitOptions, Gmm};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct GmmBenchArgs {
    /// A float32 .npy of [frames, dims] (peer_gmm.py --write FILE makes one).
    input: PathBuf,
    /// Mixture components.
    #[arg(long, default_value_t = 8)]
    components: usize,
    /// full or diag.
    #[arg(long, default_value = "full")]
    covariance: String,
    /// EM iterations at most (the peer uses the same).
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Convergence threshold on the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3)]
    tol: f64,
    /// Timed fits; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct GmmBenchResult {
    frames: usize,
    dims: usize,
    components: usize,
    covariance: String,
    iterations: usize,
    seconds: f64,
    seconds_per_iteration: f64,
    mean_log_likelihood: f64,
    threads: usize,
}

pub fn run(args: GmmBenchArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let (shape, data) = earshot::features::npy::read_f32(std::io::BufReader::new(file))
        .with_context(|| format!("reading {} (a float32 .npy)", args.input.display()))?;
    anyhow::ensure!(
        shape.len() == 2,
        "{}: expected [frames, dims]",
        args.input.display()
    );
    let (frames, dims) = (shape[0], shape[1]);
    let x: Vec<f64> = data.iter().map(|&v| v as f64).collect();
    let covariance = match args.covariance.as_str() {
        "full" => CovarianceKind::Full,
        "diag" => CovarianceKind::Diag,
        other => anyhow::bail!("--covariance {other}: expected full or diag"),
    };
    let opts = FitOptions {
        components: args.components,
        covariance,
        reg_covar: 1e-3,
        max_iter: args.max_iter,
        tol: args.tol,
        seed: 0,
    };
    let mut times = Vec::new();
    let mut fitted = None;
    for _ in 0..args.repeat.max(1) {
        let started = Instant::now();
        let g = Gmm::fit(&x, dims, &opts).map_err(anyhow::Error::msg)?;
        times.push(started.elapsed().as_secs_f64());
        fitted = Some(g);
    }
    times.sort_by(f64::total_cmp);
    let g = fitted.expect("at least one fit");
    let seconds = times[times.len() / 2];
    let result = GmmBenchResult {
        frames,
        dims,
        components: args.components,
        covariance: args.covariance,
        iterations: g.iterations,
        seconds,
        seconds_per_iteration: seconds / g.iterations.max(1) as f64,
        mean_log_likelihood: g.score_samples(&x).iter().sum::<f64>() / frames as f64,
        threads: rayon::current_num_threads(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "earshot gmm: {} x {} frames, {} components ({}): {} EM iterations in {:.2} s ({:.3} s each, k-means++ start included), mean log-likelihood {:.4}, {} threads",
            result.frames,
            result.dims,
            result.components,
            result.covariance,
            result.iterations,
            result.seconds,
            result.seconds_per_iteration,
            result.mean_log_likelihood,
            result.threads
        );
    }
    Ok(())
}
