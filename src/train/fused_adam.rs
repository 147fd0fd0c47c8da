//! Adam in one pass over each parameter, for the CPU: burn's Adam runs about
//! ten tensor operations per parameter and step (each a pass over memory and
//! an allocation), which was a fifth of the dense autoencoder's training time.
//! Same arithmetic as burn's `Adam` in the same order, and the same state type
//! (`AdamState`), so checkpoints written by either load in the other.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;

use super::adam_op::AdamStep;

/// Adam for models on `device` (L2 `weight_decay` if any): this fused one
/// where the CPU kernels run ([`crate::models::cpu::supported`]), burn's
/// elsewhere.
pub fn adam_for(device: &Device, weight_decay: Option<f32>) -> ModuleOptimizer {
    if crate::models::cpu::supported(device, burn::tensor::DType::F32) {
        ModuleOptimizer::from(FusedAdam::new(weight_decay))
    } else {
        AdamConfig::new()
            .with_weight_decay(weight_decay.map(WeightDecayConfig::new))
            .init()
    }
}

/// Adam (optionally with L2 weight decay added to the gradient, as burn's
/// `AdamConfig::with_weight_decay`), burn's default betas and epsilon.
#[derive(Debug, Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: Option<f32>,
}

impl FusedAdam {
    /// burn's `AdamConfig` defaults (0.9, 0.999, 1e-5) with this weight decay.
    pub fn new(weight_decay: Option<f32>) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay,
        }
    }

    /// The constants of step `time` (1-based) with learning rate `lr`: the
    /// bias corrections folded into the moment's factor and epsilon as burn
    /// folds them (shared with the GPU's chunked Adam).
    pub(crate) fn constants(&self, lr: LearningRate, time: usize) -> AdamStep {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let bias_correction2_sqrt = (1.0 - b2.powi(time as i32)).sqrt();
        AdamStep {
            beta_1: b1,
            beta_2: b2,
            factor: bias_correction2_sqrt / (1.0 - b1.powi(time as i32)),
            epsilon: self.epsilon * bias_correction2_sqrt,
            learning_rate: lr as f32,
            weight_decay: self.weight_decay.unwrap_or(0.0),
        }
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .expect("the fused Adam runs on f32 parameters (see models::cpu::supported)")
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (device, shape) = (tensor.device(), tensor.shape());
        let mut param = values(tensor);
        let mut grad = values(grad);
        if let Some(penalty) = self.weight_decay {
            grad.iter_mut()
                .zip(&param)
                .for_each(|(g, p)| *g += p * penalty);
        }
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (mut m, mut v, time) = match state {
            Some(s) => {
                let m = values(s.momentum.moment_1);
                let v = values(s.momentum.moment_2);
                (m, v, s.momentum.time + 1)
            }
            None => (vec![0.0; param.len()], vec![0.0; param.len()], 1),
        };
        let first = time == 1;
        let AdamStep {
            factor,
            epsilon,
            learning_rate: lr,
            ..
        } = self.constants(lr, time);
        // burn's first step starts the moments from the gradient alone; the
        // loop is compiled for AVX2 where the CPU has it (same results).
        crate::models::cpu::with_wide_simd(|| {
            let moments = param.iter_mut().zip(&grad).zip(&mut m).zip(&mut v);
            for (((p, g), m), v) in moments {
                (*m, *v) = if first {
                    (g * (1.0 - b1), g * g * (1.0 - b2))
                } else {
                    (*m * b1 + g * (1.0 - b1), *v * b2 + g * g * (1.0 - b2))
                };
                *p -= (*m * factor) / (v.sqrt() + epsilon) * lr;
            }
        });
        let tensor_of =
            |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        let momentum = AdaptiveMomentumState::new(time, tensor_of(m), tensor_of(v));
        (tensor_of(param), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState::new(state.momentum.to_device(device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    /// The weights of a small linear layer after `steps` steps of `optim` on a fixed loss.
    fn train(mut optim: ModuleOptimizer, steps: usize) -> Vec<f32> {
        let device = Device::flex().autodiff();
        device.seed(5);
        let mut layer: Linear = LinearConfig::new(7, 5).init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new((0..21).map(|i| (i as f32 * 0.3).sin()).collect(), [3, 7]),
            &device,
        );
        for _ in 0..steps {
            let loss = layer.forward(x.clone()).powi_scalar(2).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &layer);
            layer = optim.step(1e-2, layer, grads);
        }
        layer.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn matches_burns_adam_bit_for_bit() {
        for decay in [None, Some(0.01)] {
            let burn = AdamConfig::new()
                .with_weight_decay(decay.map(WeightDecayConfig::new))
                .init();
            let ours = ModuleOptimizer::from(FusedAdam::new(decay));
            assert_eq!(train(ours, 6), train(burn, 6), "weight decay {decay:?}");
        }
    }
}
