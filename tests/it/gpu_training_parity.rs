//! Training on wgpu (lavapipe in CI) gives the numbers training on the CPU
//! gives: the same weights, the same batch, three Adam steps, every
//! parameter within 1e-4. On wgpu the models run the WGSL kernels (LSTM,
//! dense block, im2col / col2im convolutions) and the chunked Adam kernel; on
//! the CPU the CPU kernels and the fused Adam: two independent
//! implementations of the same arithmetic.
//! Left out: a Linear bias feeding a batch norm. Its gradient is zero but for
//! rounding, and Adam's normalised step turns that noise into steps of up to
//! the learning rate whose sign neither implementation determines.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::DeviceKind;
use earshot::models::{Autoencoder, ModelConfig};
use earshot::train::TrainOptimizer;

/// Every parameter of `model` in module order, with its module path.
fn named_parameters(model: &Autoencoder) -> Vec<(String, Vec<f32>)> {
    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        found: Vec<(String, Vec<f32>)>,
    }
    impl burn::module::ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            let values = data.iter::<f32>().collect();
            self.found.push((self.path.join("."), values));
        }
    }
    let mut collect = Collect::default();
    model.visit(&mut collect);
    collect.found
}

/// Every parameter of `model`, flattened in module order.
fn parameters(model: &Autoencoder) -> Vec<f32> {
    named_parameters(model)
        .into_iter()
        .flat_map(|(_, values)| values)
        .collect()
}

/// Whether the parameter at `path` is a dense block's Linear bias, which
/// feeds a batch norm (see the module docs).
fn feeds_batch_norm(path: &str) -> bool {
    path.ends_with("linear.bias")
}

/// `model` after three Adam steps on `batch`, on `device`.
fn train(model: Autoencoder, batch: &TensorData, device: &Device) -> Vec<(String, Vec<f32>)> {
    let mut model = model;
    let mut optim = TrainOptimizer::adam(device, None);
    for _ in 0..3 {
        let x = Tensor::<3>::from_data(batch.clone(), device);
        let loss = model.loss(x, None, 0.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    // Running statistics too (where the GPU keeps them aside between steps),
    // synced as for validation.
    model.settle_running_stats();
    named_parameters(&model.valid())
}

/// `model` with its parameters set to `values` (in [`parameters`] order) on `device`.
fn with_parameters(model: Autoencoder, values: &[f32], device: &Device) -> Autoencoder {
    struct Fill<'a>(&'a [f32], &'a Device);
    impl burn::module::ModuleMapper for Fill<'_> {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            let device = self.1;
            let values = &mut self.0;
            param.map(|tensor| {
                let shape = tensor.shape();
                let (here, rest) = values.split_at(shape.num_elements());
                *values = rest;
                Tensor::from_data(TensorData::new(here.to_vec(), shape), device).require_grad()
            })
        }
    }
    model.map(&mut Fill(values, device))
}

/// Trains `config` both ways and compares every parameter; the number left
/// out ([`feeds_batch_norm`]).
fn check(config: ModelConfig, frames: usize, coeffs: usize) -> usize {
    let cpu = Device::flex().autodiff();
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    // One initialisation, its values copied into a model on each device.
    let start = parameters(&config.init(frames, coeffs, &cpu).expect("an autoencoder"));
    let fresh = |device: &Device| {
        let model = config.init(frames, coeffs, device).expect("an autoencoder");
        with_parameters(model, &start, device)
    };
    let rows = 16;
    let values: Vec<f32> = (0..rows * frames * coeffs)
        .map(|i| ((i as f32) * 0.37).sin() * 1.5)
        .collect();
    let batch = TensorData::new(values, [rows, frames, coeffs]);
    let on_cpu = train(fresh(&cpu), &batch, &cpu);
    let on_gpu = train(fresh(&wgpu), &batch, &wgpu);
    assert_eq!(on_cpu.len(), on_gpu.len());
    let flat: Vec<f32> = on_cpu.iter().flat_map(|(_, v)| v.clone()).collect();
    let moved = flat
        .iter()
        .zip(&start)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        moved > 1e-3,
        "{config:?}: three steps changed nothing ({moved})"
    );
    let mut left_out = 0;
    for ((path, cpu_values), (gpu_path, gpu_values)) in on_cpu.iter().zip(&on_gpu) {
        assert_eq!(path, gpu_path);
        if feeds_batch_norm(path) {
            left_out += 1;
            continue;
        }
        let worst = cpu_values
            .iter()
            .zip(gpu_values)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4,
            "{config:?}: {path}: largest parameter difference {worst}"
        );
    }
    left_out
}

#[test]
fn lstm_autoencoder_trains_to_the_same_numbers_on_cpu_and_wgpu() {
    let config: ModelConfig = toml::from_str("kind = \"rnn\"\nhidden = 24\nlatent = 8").unwrap();
    assert_eq!(check(config, 12, 10), 0);
}

#[test]
fn conv_autoencoder_trains_to_the_same_numbers_on_cpu_and_wgpu() {
    let config: ModelConfig = toml::from_str("kind = \"cae\"").unwrap();
    assert_eq!(check(config, 16, 20), 0);
}

#[test]
fn dense_autoencoder_trains_to_the_same_numbers_on_cpu_and_wgpu() {
    let config: ModelConfig =
        toml::from_str("kind = \"dense\"\nhidden = [64, 32]\nbottleneck = 8").unwrap();
    // Five blocks (80-64-32-8-32-64), each a Linear bias feeding a batch norm.
    assert_eq!(check(config, 5, 16), 5);
}

#[test]
fn dense_vae_trains_to_the_same_numbers_on_cpu_and_wgpu() {
    // Its output layer and loss are one kernel on wgpu, burn's ops on the CPU.
    let config: ModelConfig = toml::from_str("kind = \"vae\"\nhidden = [32]\nlatent = 4").unwrap();
    assert_eq!(check(config, 5, 16), 0);
}

#[test]
fn batches_gathered_on_the_device_equal_batches_copied_from_the_host() {
    use earshot::data::WindowSet;
    use earshot::train::batches::Batches;
    let (count, frames, coeffs) = (50, 4, 3);
    let set = WindowSet::from_windows(
        frames,
        coeffs,
        (0..count * frames * coeffs)
            .map(|i| i as f32 * 0.5 - 7.0)
            .collect(),
        (0..count).map(|i| i / 5).collect(),
    );
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let resident = Batches::new(&set, &wgpu);
    let host = Batches::from_host(&set, &wgpu);
    assert!(resident.is_resident() && !host.is_resident());
    // Per pass: 4 bytes of row index per frame against every window's values.
    assert_eq!(resident.upload_bytes_per_pass(), count * frames * 4);
    assert_eq!(host.upload_bytes_per_pass(), count * frames * coeffs * 4);
    let indices = [49, 0, 7, 7, 23];
    let got = resident.get(&indices);
    assert_eq!(got.dims(), [5, frames, coeffs]);
    let got = got.into_data();
    assert_eq!(got, host.get(&indices).into_data());
    // Windows 49 and 0, checked by hand: window w starts at w * 12.
    let values = got.try_to_vec::<f32>().unwrap();
    assert_eq!(values[0], 49.0 * 12.0 * 0.5 - 7.0);
    assert_eq!(values[12], -7.0);
    // On the CPU nothing is kept resident.
    assert!(!Batches::new(&set, &Device::flex()).is_resident());

    // Overlapping windows (hop 1) are cut on the device from frames kept once.
    let clips: Vec<earshot::features::Features> = [9usize, 2, 30]
        .iter()
        .enumerate()
        .map(|(c, &n)| earshot::features::Features {
            frames: n,
            coeffs,
            data: (0..n * coeffs).map(|i| (c * 1000 + i) as f32).collect(),
        })
        .collect();
    let set = WindowSet::cut(&clips, frames, 1);
    assert_eq!(set.len(), 6 + 1 + 27);
    let resident = Batches::new(&set, &wgpu);
    assert!(resident.is_resident());
    assert_eq!(resident.resident_bytes(), (9 + 4 + 30) * coeffs * 4);
    let indices: Vec<usize> = (0..set.len()).rev().step_by(3).collect();
    assert_eq!(
        resident.get(&indices).into_data(),
        Batches::from_host(&set, &wgpu).get(&indices).into_data()
    );
}
