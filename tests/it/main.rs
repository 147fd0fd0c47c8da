//! The integration tests, one binary: each file is a module, so burn, wgpu
//! and the WGSL kernels link and compile once. Kernel comparisons switch
//! kernels for their own thread (`with_kernels`); the one test that sets the
//! process's environment (`BURN_DEVICE`) lives in tests/standalone/.

#[path = "../common/mod.rs"]
mod common;

mod ae_scoring;
mod architecture;
mod audio_ingest;
mod cli_completions;
mod cli_eval;
mod cli_features;
mod cli_logging;
mod cli_overrides;
mod cli_references;
mod cli_sweep;
mod cli_train;
mod cpu_kernels;
mod cpu_kernels_training;
mod dashboard;
mod data_bad;
mod data_fetch;
mod data_layouts;
mod dcase_metrics;
mod eval_metrics;
mod experiments_parse;
mod export_model;
mod feature_deltas;
mod feature_parity;
mod fuzz_regressions;
mod gpu_adam;
mod gpu_conv;
mod gpu_device_rows;
mod gpu_dispatches;
mod gpu_features;
mod gpu_kernels;
mod gpu_training_parity;
mod gpu_vae_kernels;
mod hostile;
mod models_overfit;
mod npy_cache;
mod reference_detectors;
mod run_integrity;
mod run_records;
mod tensorboard;
mod wgpu_smoke;
