//! The chunked Adam on wgpu (lavapipe in CI; `shaders/adam.wgsl`, five
//! parameters a dispatch) steps a model as burn's Adam does, and its
//! checkpoints are burn's records: a run moves between the two mid-training.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;
use burn::tensor::DeviceKind;
use burn::tensor::activation::relu;
use earshot::train::TrainOptimizer;
use earshot::train::gpu_adam::ChunkedAdam;

/// Four layers: eight parameter tensors of five shapes, two chunks.
#[derive(Module, Debug)]
struct Net {
    layers: Vec<Linear>,
}

impl Net {
    fn new(device: &Device) -> Self {
        let widths = [6, 9, 4, 7, 6];
        Net {
            layers: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
        }
    }

    fn loss(&self, x: Tensor<2>) -> Tensor<1> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i + 1 < self.layers.len() {
                h = relu(h);
            }
        }
        (h - x).square().mean()
    }

    fn values(&self) -> Vec<f32> {
        self.layers
            .iter()
            .flat_map(|l| {
                let mut v = l.weight.val().into_data().try_to_vec::<f32>().unwrap();
                v.extend(
                    l.bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .into_data()
                        .try_to_vec::<f32>()
                        .unwrap(),
                );
                v
            })
            .collect()
    }
}

fn wgpu() -> Device {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(3);
    device
}

fn batch(step: usize, device: &Device) -> Tensor<2> {
    let values = (0..5 * 6)
        .map(|i| ((i * 7 + step * 13) as f32 * 0.37).sin())
        .collect();
    Tensor::from_data(TensorData::new(values, [5, 6]), device)
}

/// Either optimiser, stepped the same way.
enum Optim {
    Burn(ModuleOptimizer),
    Chunked(ChunkedAdam),
}

impl Optim {
    fn step(&mut self, net: Net, step: usize, device: &Device) -> Net {
        let grads = GradientsParams::from_grads(net.loss(batch(step, device)).backward(), &net);
        match self {
            Optim::Burn(o) => o.step(1e-2, net, grads),
            Optim::Chunked(o) => o.step(1e-2, net, grads),
        }
    }

    fn record(&self, net: &Net) -> OptimizerRecord {
        let record = match self {
            Optim::Burn(o) => o.to_record(),
            Optim::Chunked(o) => o.to_record(net),
        };
        // Through bytes, as a checkpoint file holds it.
        OptimizerRecord::from_bytes(record.into_bytes().unwrap()).unwrap()
    }
}

fn burn_adam(decay: Option<f32>) -> ModuleOptimizer {
    AdamConfig::new()
        .with_weight_decay(decay.map(WeightDecayConfig::new))
        .init()
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-6, "{what}: value {i}: {x} vs {y}");
    }
}

#[test]
fn chunked_adam_steps_as_burns_adam() {
    let device = wgpu();
    assert!(
        ChunkedAdam::supported(&device),
        "the kernel runs on lavapipe"
    );
    assert!(matches!(
        TrainOptimizer::adam(&device, None),
        TrainOptimizer::Chunked(_)
    ));
    assert!(matches!(
        TrainOptimizer::adam(&Device::flex(), None),
        TrainOptimizer::Module(_)
    ));
    for decay in [None, Some(0.05)] {
        let start = Net::new(&device);
        let (mut ours, mut theirs) = (start.clone(), start);
        let mut chunked = Optim::Chunked(ChunkedAdam::new(decay));
        let mut burn = Optim::Burn(burn_adam(decay));
        for step in 0..4 {
            ours = chunked.step(ours, step, &device);
            theirs = burn.step(theirs, step, &device);
        }
        assert_close(
            &format!("weight decay {decay:?}"),
            &ours.values(),
            &theirs.values(),
        );
        assert_ne!(ours.values(), Net::new(&device).values());
    }
}

#[test]
fn checkpoints_move_between_chunked_and_burns_adam() {
    let device = wgpu();
    let start = Net::new(&device);
    // Two steps in one optimiser, its record loaded by the other, two more.
    let resume = |first: Optim, second: fn(OptimizerRecord, &Net) -> Optim| {
        let (mut optim, mut net) = (first, start.clone());
        for step in 0..2 {
            net = optim.step(net, step, &device);
        }
        let mut optim = second(optim.record(&net), &net);
        for step in 2..4 {
            net = optim.step(net, step, &device);
        }
        net.values()
    };
    let mut straight = (Optim::Burn(burn_adam(None)), start.clone());
    for step in 0..4 {
        straight.1 = straight.0.step(straight.1, step, &device);
    }
    let expected = straight.1.values();
    let to_chunked = resume(Optim::Burn(burn_adam(None)), |record, net| {
        Optim::Chunked(ChunkedAdam::new(None).load_record(record, net))
    });
    assert_close(
        "burn's record resumed by the chunked Adam",
        &to_chunked,
        &expected,
    );
    let to_burn = resume(Optim::Chunked(ChunkedAdam::new(None)), |record, _| {
        Optim::Burn(burn_adam(None).load_record(record))
    });
    assert_close(
        "the chunked Adam's record resumed by burn's",
        &to_burn,
        &expected,
    );
    // A fresh optimiser (no moments) would step differently: the records carry them.
    let fresh = resume(Optim::Burn(burn_adam(None)), |_, _| {
        Optim::Chunked(ChunkedAdam::new(None))
    });
    assert!(
        fresh
            .iter()
            .zip(&expected)
            .any(|(a, b)| (a - b).abs() > 1e-5),
        "moments matter to the check"
    );
}
