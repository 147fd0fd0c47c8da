//! Adam over the whole model on wgpu in a few dispatches: parameters go to
//! the kernel five at a time ([`super::adam_op`]), where burn's
//! Adam steps each parameter on its own (several kernels each; its fusion
//! merges only same-shaped tensors, as far as the device's bindings allow).
//! The arithmetic is burn's. Moments live here between steps as one `[m; v]`
//! tensor per parameter; checkpoints carry burn's own `OptimizerRecord` of
//! `AdamState`s (built through a `ModuleOptimizer`), so a run saved here
//! resumes on the CPU and the other way round.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{
    AdamState, AdaptiveMomentumState, GradientsParams, LearningRate, ModuleOptimizer, Optimizer,
    OptimizerRecord,
};
use burn::prelude::*;

use super::adam_op::{AdamChunkOps, AdamStep, BINDINGS, SLOTS};
use super::fused_adam::FusedAdam;

/// Adam's moments of one parameter: steps taken, and `[m; v]` flattened.
#[derive(Debug, Clone)]
struct Moments {
    time: usize,
    packed: Tensor<1>,
}

/// Adam (L2 `weight_decay` if any, burn's default betas and epsilon) for a
/// model on the wgpu device, a chunk of parameters per dispatch.
#[derive(Debug, Clone)]
pub struct ChunkedAdam {
    adam: FusedAdam,
    states: HashMap<ParamId, Moments>,
}

impl ChunkedAdam {
    /// Whether it runs on `device`: the GPU kernels are on, and one kernel
    /// may bind all a chunk's buffers.
    pub fn supported(device: &Device) -> bool {
        crate::gpu::supported(device, burn::tensor::DType::F32)
            && crate::gpu::max_bindings(device).is_some_and(|b| b >= BINDINGS)
    }

    /// burn's `AdamConfig` defaults (0.9, 0.999, 1e-5) with this weight decay.
    pub fn new(weight_decay: Option<f32>) -> Self {
        Self {
            adam: FusedAdam::new(weight_decay),
            states: HashMap::new(),
        }
    }

    /// One step on every parameter of `module` that has a gradient.
    pub fn step<M: Module>(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        let mut collect = Collect {
            grads: &grads,
            found: Vec::new(),
        };
        module.visit(&mut collect);
        // Parameters at the same step count share the bias corrections.
        let mut by_time: BTreeMap<usize, Vec<Found>> = BTreeMap::new();
        for found in collect.found {
            let time = self.states.get(&found.id).map_or(1, |s| s.time + 1);
            by_time.entry(time).or_default().push(found);
        }
        let mut updated = HashMap::new();
        for (time, mut group) in by_time {
            // Lengths that are multiples of four together (such a chunk runs
            // four floats a load), and similar lengths together: the kernel
            // runs as many blocks of each tensor as its chunk's longest has.
            group.sort_by_key(|f| (f.param.dims()[0] % 4 != 0, f.param.dims()[0]));
            let step = self.adam.constants(lr, time);
            for chunk in group.chunks(SLOTS) {
                let moments: Vec<Tensor<1>> = chunk
                    .iter()
                    .map(|f| match self.states.remove(&f.id) {
                        Some(s) => s.packed,
                        None => Tensor::zeros([2 * f.param.dims()[0]], &f.param.device()),
                    })
                    .collect();
                let (params, packed) = run_chunk(chunk, moments, step);
                for ((f, param), packed) in chunk.iter().zip(params).zip(packed) {
                    self.states.insert(f.id, Moments { time, packed });
                    updated.insert(f.id, param);
                }
            }
        }
        module.map(&mut Replace { updated })
    }

    /// burn's record of these moments for the parameters of `module`.
    pub fn to_record<M: Module>(&self, module: &M) -> OptimizerRecord {
        let mut queue = VecDeque::new();
        let mut grads = GradientsParams::new();
        module.visit(&mut Register {
            grads: &mut grads,
            wanted: |id| match self.states.get(&id) {
                Some(s) => {
                    queue.push_back(Some(s.clone()));
                    true
                }
                None => false,
            },
        });
        let bridge = StateBridge {
            reading: false,
            queue: Arc::new(Mutex::new(queue)),
        };
        let mut optim = ModuleOptimizer::from(bridge);
        let _ = optim.step(0.0, module.clone(), grads);
        optim.to_record()
    }

    /// These moments from burn's `record` of the parameters of `module`.
    pub fn load_record<M: Module>(mut self, record: OptimizerRecord, module: &M) -> Self {
        let mut ids = Vec::new();
        let mut grads = GradientsParams::new();
        module.visit(&mut Register {
            grads: &mut grads,
            wanted: |id| {
                ids.push(id);
                true
            },
        });
        let bridge = StateBridge {
            reading: true,
            queue: Arc::new(Mutex::new(VecDeque::new())),
        };
        let mut optim = ModuleOptimizer::from(bridge.clone()).load_record(record);
        let _ = optim.step(0.0, module.clone(), grads);
        let read = std::mem::take(&mut *bridge.queue.lock().expect("not poisoned"));
        self.states = ids
            .into_iter()
            .zip(read)
            .filter_map(|(id, s)| s.map(|moments| (id, moments)))
            .collect();
        self
    }
}

/// A parameter with a gradient, both flattened, on the inner device.
struct Found {
    id: ParamId,
    param: Tensor<1>,
    grad: Tensor<1>,
}

struct Collect<'a> {
    grads: &'a GradientsParams,
    found: Vec<Found>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let value = param.val();
        let n = value.shape().num_elements();
        if n == 0 {
            return;
        }
        self.found.push(Found {
            id: param.id,
            param: value.inner().reshape([n]),
            grad: grad.reshape([n]),
        });
    }
}

/// Runs the kernel on one chunk: the parameters and moments after the step.
fn run_chunk(
    chunk: &[Found],
    moments: Vec<Tensor<1>>,
    step: AdamStep,
) -> (Vec<Tensor<1>>, Vec<Tensor<1>>) {
    use burn::backend::Dispatch;
    // Slots past the chunk repeat its first tensors: only their specs are read.
    let slot = |k: usize| chunk.get(k).unwrap_or(&chunk[0]);
    let p = |k: usize| slot(k).param.clone().into_dispatch();
    let g = |k: usize| slot(k).grad.clone().into_dispatch();
    let m = |k: usize| {
        moments
            .get(k)
            .unwrap_or(&moments[0])
            .clone()
            .into_dispatch()
    };
    let ((p0, p1, p2, p3, p4), (m0, m1, m2, m3, m4)) = Dispatch::adam_chunk(
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        g(0),
        g(1),
        g(2),
        g(3),
        g(4),
        m(0),
        m(1),
        m(2),
        m(3),
        m(4),
        chunk.len() as u32,
        step.beta_1,
        step.beta_2,
        step.factor,
        step.epsilon,
        step.learning_rate,
        step.weight_decay,
    );
    let used = chunk.len();
    let params = [p0, p1, p2, p3, p4].into_iter().take(used);
    let moments = [m0, m1, m2, m3, m4].into_iter().take(used);
    (
        params.map(Tensor::from_dispatch).collect(),
        moments.map(Tensor::from_dispatch).collect(),
    )
}

/// Puts the updated values back, with the autodiff state each parameter had.
struct Replace {
    updated: HashMap<ParamId, Tensor<1>>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(new) = self.updated.remove(&id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let mut value = Tensor::from_inner(new.reshape(tensor.shape()));
        if let Some(strategy) = tensor.gradient_checkpointing_strategy() {
            value = value.with_gradient_checkpointing_strategy(strategy);
        }
        if tensor.is_require_grad() {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}

/// Gives every trained parameter that `wanted` accepts (in visiting order)
/// a stand-in gradient, so a `ModuleOptimizer` steps exactly those.
struct Register<'a, F: FnMut(ParamId) -> bool> {
    grads: &'a mut GradientsParams,
    wanted: F,
}

impl<F: FnMut(ParamId) -> bool> ModuleVisitor for Register<'_, F> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if value.is_require_grad() && (self.wanted)(param.id) {
            self.grads.register::<D>(param.id, value.inner());
        }
    }
}

/// Hands moments between this optimiser and a `ModuleOptimizer` (whose
/// records are burn's format): stepping with it leaves every parameter as it
/// is and, per parameter in visiting order, sets its state from the queue
/// (writing) or appends the state it had to the queue (reading).
#[derive(Clone)]
struct StateBridge {
    reading: bool,
    queue: Arc<Mutex<VecDeque<Option<Moments>>>>,
}

impl Optimizer for StateBridge {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        _lr: LearningRate,
        tensor: Tensor<D>,
        _grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let mut queue = self.queue.lock().expect("not poisoned");
        if self.reading {
            // The record's state of this parameter, flattened.
            queue.push_back(state.map(|s| {
                let m = s.momentum;
                let n = m.moment_1.shape().num_elements();
                let packed = Tensor::cat(vec![m.moment_1.reshape([n]), m.moment_2.reshape([n])], 0);
                Moments {
                    time: m.time,
                    packed,
                }
            }));
            return (tensor, None);
        }
        // This parameter's moments as burn's state.
        let state = queue.pop_front().flatten().map(|Moments { time, packed }| {
            let (shape, n) = (tensor.shape(), tensor.shape().num_elements());
            let m = packed.clone().slice(0..n).reshape(shape.clone());
            let v = packed.slice(n..2 * n).reshape(shape);
            AdamState::new(AdaptiveMomentumState::new(time, m, v))
        });
        (tensor, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState::new(state.momentum.to_device(device))
    }
}
