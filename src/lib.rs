//! earshot: unsupervised audio anomaly detection with autoencoders.
//!
//! Audio flows one way through the stages, each in its own module:
//! [`audio`] (decode, mono, resample) → [`features`] (MFCC / log-mel) →
//! [`data`] (datasets, splits, windows) → [`models`] (the zoo) → [`train`]
//! (loop, checkpoints, events). [`experiment`] drives them from a TOML file.

pub mod audio;
pub mod csvx;
pub mod dashboard;
pub mod data;
pub mod datasets;
pub mod eval;
pub mod experiment;
pub mod features;
pub mod fsx;
pub mod gpu;
pub mod interrupt;
pub mod models;
pub mod records;
pub mod report;
pub mod safetensors;
pub mod tensorboard;
pub mod train;

/// The crate version, recorded in every output it writes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
