//! An LSTM layer laid out for speed. Per step, burn's `Lstm` runs eight small
//! matmuls (input and hidden for each of four gates) plus their bias adds; here
//! the four gates share one weight `[input + hidden, 4 * hidden]`, so a step is
//! one matmul. When the input is the same at every step (the decoder of a
//! repeat-vector autoencoder) its projection is computed once for the whole
//! sequence. Steps stay separate tensors between layers, because slicing one
//! `[batch, time, ...]` tensor per step costs a full-size gradient per slice.
//! Gates are the usual ones, in the order input, forget, cell, output.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::ops::lstm::lstm_sequence;
use super::ops::placement::recurrent_kernels_run;

/// A unidirectional LSTM layer over a sequence of `[batch, features]` steps.
#[derive(Module, Debug)]
pub struct FusedLstm {
    /// `[input | hidden] -> 4 * hidden` with the gates' biases.
    cell: Linear,
    input: usize,
    hidden: usize,
}

impl FusedLstm {
    /// A layer of `input` features to `hidden` units (Xavier-normal weights,
    /// forget-gate bias 1 so early training keeps its memory).
    pub fn new(input: usize, hidden: usize, device: &Device) -> Self {
        let cell = LinearConfig::new(input + hidden, 4 * hidden)
            .with_initializer(Initializer::XavierNormal { gain: 1.0 })
            .init(device);
        let bias = Tensor::<1>::cat(
            vec![
                Tensor::zeros([hidden], device),
                Tensor::ones([hidden], device),
                Tensor::zeros([2 * hidden], device),
            ],
            0,
        );
        let cell = Linear {
            bias: Some(burn::module::Param::from_tensor(bias)),
            ..cell
        };
        Self {
            cell,
            input,
            hidden,
        }
    }

    /// Whether [`Self::forward_sequence`] runs for `steps` time steps of
    /// tensors on `device` of `dtype` (the CPU kernel: Flex backend, f32; the
    /// GPU kernels: wgpu, f32).
    pub fn has_kernel(&self, device: &Device, dtype: burn::tensor::DType, steps: usize) -> bool {
        recurrent_kernels_run(device, dtype, 4, [self.input, self.hidden, steps])
    }

    /// The fused gate weight `[input + hidden, 4 hidden]` and bias `[4 hidden]`.
    pub fn gate_parameters(&self) -> (Tensor<2>, Tensor<1>) {
        let bias = match &self.cell.bias {
            Some(bias) => bias.val(),
            None => Tensor::zeros([4 * self.hidden], &self.cell.weight.device()),
        };
        (self.cell.weight.val(), bias)
    }

    /// Hidden states `[batch, time, hidden]` for `x` (`[batch, time, input]`)
    /// in one operation, forward and backward ([`lstm_sequence`]); only where
    /// [`Self::has_kernel`] says so. Same values as [`Self::forward_steps`].
    pub fn forward_sequence(&self, x: Tensor<3>) -> Tensor<3> {
        let (weight, bias) = self.gate_parameters();
        lstm_sequence(x, weight, bias)
    }

    /// Hidden states of every step for inputs `steps` (each `[batch, input]`).
    pub fn forward_steps(&self, steps: &[Tensor<2>]) -> Vec<Tensor<2>> {
        let Some(first) = steps.first() else {
            return Vec::new();
        };
        let [batch, _] = first.dims();
        self.run(batch, steps.len(), &first.device(), |t, h| {
            self.cell.forward(Tensor::cat(vec![steps[t].clone(), h], 1))
        })
    }

    /// Hidden states of `time` steps whose input is `x` (`[batch, input]`) at every step.
    pub fn forward_constant(&self, x: Tensor<2>, time: usize) -> Vec<Tensor<2>> {
        let [batch, _] = x.dims();
        let device = x.device();
        let weight = self.cell.weight.val(); // [input + hidden, 4 * hidden]
        let w_input = weight.clone().narrow(0, 0, self.input);
        let w_hidden = weight.narrow(0, self.input, self.hidden);
        let mut projected = x.matmul(w_input);
        if let Some(bias) = &self.cell.bias {
            projected = projected + bias.val().unsqueeze_dim(0);
        }
        self.run(batch, time, &device, |_, h| {
            projected.clone() + h.matmul(w_hidden.clone())
        })
    }

    fn run(
        &self,
        batch: usize,
        time: usize,
        device: &Device,
        gates_of: impl Fn(usize, Tensor<2>) -> Tensor<2>,
    ) -> Vec<Tensor<2>> {
        let n = self.hidden;
        let mut h = Tensor::<2>::zeros([batch, n], device);
        let mut c = Tensor::<2>::zeros([batch, n], device);
        let mut outputs = Vec::with_capacity(time);
        for t in 0..time {
            let gates = gates_of(t, h);
            let i = sigmoid(gates.clone().narrow(1, 0, n));
            let f = sigmoid(gates.clone().narrow(1, n, n));
            let g = tanh(gates.clone().narrow(1, 2 * n, n));
            let o = sigmoid(gates.narrow(1, 3 * n, n));
            c = f * c + i * g;
            h = o * tanh(c.clone());
            outputs.push(h.clone());
        }
        outputs
    }
}

/// tanh through the logistic function, `2 sigmoid(2x) - 1`: the same values in
/// f32, and on burn's CPU backend several times cheaper than its scalar
/// `tanhf` (which perf showed as the largest single cost of an LSTM step).
fn tanh(x: Tensor<2>) -> Tensor<2> {
    sigmoid(x * 2.0) * 2.0 - 1.0
}
