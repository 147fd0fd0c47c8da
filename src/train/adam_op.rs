//! Adam over up to [`SLOTS`] parameter tensors in one dispatch
//! (`shaders/adam.wgsl`), as a burn operation on the cubecl backend (opaque to
//! burn's fusion). [`crate::train::gpu_adam`] steps a whole model with it.

use burn::backend::backend_extension;
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;

use crate::gpu::empty;
use crate::gpu::{WgslKernel, grid};

const ADAM: &str = include_str!("../../shaders/adam.wgsl");

/// Parameter tensors one dispatch updates: 5 bindings each and one for the
/// settings, 26 in all (lavapipe allows 32, Metal 31, desktop Vulkan and
/// DX12 far more).
pub const SLOTS: usize = 5;

/// Storage buffers the kernel binds.
pub const BINDINGS: u32 = 5 * SLOTS as u32 + 1;

const THREADS: u32 = 256;

type Slots<T> = (T, T, T, T, T);

/// Adam's constants for one step: the betas, the bias corrections folded
/// into `factor` and `epsilon` (as burn computes them), the learning rate,
/// the L2 weight decay (0: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// The step's bias-correction factor.
    pub factor: f32,
    /// Added to the second moment's root.
    pub epsilon: f32,
    /// The learning rate.
    pub learning_rate: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
}

/// One Adam step over parameter tensors, flattened.
#[backend_extension(Cube, Fusion)]
pub trait AdamChunkOps: burn::backend::Backend {
    /// The first `used` slots' parameters `p` (`[n]`), gradients `g` (`[n]`)
    /// and moments `m` (`[2n]`: first then second) after one Adam step with
    /// these constants; slots past `used` are ignored (their outputs are
    /// placeholders).
    #[fusion(meta = chunk_specs)]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn adam_chunk(
        p0: FloatTensor<Self>,
        p1: FloatTensor<Self>,
        p2: FloatTensor<Self>,
        p3: FloatTensor<Self>,
        p4: FloatTensor<Self>,
        g0: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        g2: FloatTensor<Self>,
        g3: FloatTensor<Self>,
        g4: FloatTensor<Self>,
        m0: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        m3: FloatTensor<Self>,
        m4: FloatTensor<Self>,
        used: u32,
        beta_1: f32,
        beta_2: f32,
        factor: f32,
        epsilon: f32,
        learning_rate: f32,
        weight_decay: f32,
    ) -> (
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
        (
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
            FloatTensor<Self>,
        ),
    );
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn chunk_specs(
    p0: &TensorSpec,
    p1: &TensorSpec,
    p2: &TensorSpec,
    p3: &TensorSpec,
    p4: &TensorSpec,
    _g0: &TensorSpec,
    _g1: &TensorSpec,
    _g2: &TensorSpec,
    _g3: &TensorSpec,
    _g4: &TensorSpec,
    m0: &TensorSpec,
    m1: &TensorSpec,
    m2: &TensorSpec,
    m3: &TensorSpec,
    m4: &TensorSpec,
    _used: &u32,
    _beta_1: &f32,
    _beta_2: &f32,
    _factor: &f32,
    _epsilon: &f32,
    _learning_rate: &f32,
    _weight_decay: &f32,
) -> (Slots<TensorSpec>, Slots<TensorSpec>) {
    (
        (p0.clone(), p1.clone(), p2.clone(), p3.clone(), p4.clone()),
        (m0.clone(), m1.clone(), m2.clone(), m3.clone(), m4.clone()),
    )
}

impl AdamChunkOps for CubeBackend {
    fn adam_chunk(
        p0: CubeTensor,
        p1: CubeTensor,
        p2: CubeTensor,
        p3: CubeTensor,
        p4: CubeTensor,
        g0: CubeTensor,
        g1: CubeTensor,
        g2: CubeTensor,
        g3: CubeTensor,
        g4: CubeTensor,
        m0: CubeTensor,
        m1: CubeTensor,
        m2: CubeTensor,
        m3: CubeTensor,
        m4: CubeTensor,
        used: u32,
        beta_1: f32,
        beta_2: f32,
        factor: f32,
        epsilon: f32,
        learning_rate: f32,
        weight_decay: f32,
    ) -> (Slots<CubeTensor>, Slots<CubeTensor>) {
        let step = AdamStep {
            beta_1,
            beta_2,
            factor,
            epsilon,
            learning_rate,
            weight_decay,
        };
        let [q0, q1, q2, q3, q4, n0, n1, n2, n3, n4] = launch(
            [p0, p1, p2, p3, p4],
            [g0, g1, g2, g3, g4],
            [m0, m1, m2, m3, m4],
            used as usize,
            step,
        );
        ((q0, q1, q2, q3, q4), (n0, n1, n2, n3, n4))
    }
}

/// Launches the kernel; returns the parameters then the moments after the
/// step (placeholders past `used`: four-value buffers, never read).
fn launch(
    params: [CubeTensor; SLOTS],
    grads: [CubeTensor; SLOTS],
    moments: [CubeTensor; SLOTS],
    used: usize,
    step: AdamStep,
) -> [CubeTensor; 2 * SLOTS] {
    let like = params[0].clone();
    let sizes: Vec<usize> = (0..SLOTS)
        .map(|k| {
            if k < used {
                params[k].meta.shape().num_elements()
            } else {
                0
            }
        })
        .collect();
    // Four floats at a time when every length allows it.
    let lanes = if sizes.iter().all(|n| n % 4 == 0) {
        4
    } else {
        1
    };
    // Unused slots bind buffers of their own (no buffer is bound twice), of
    // one Value.
    let spare = |_| empty(&like, [4]);
    let mut bindings = Vec::with_capacity(BINDINGS as usize);
    let mut outputs_p = Vec::with_capacity(SLOTS);
    let mut outputs_m = Vec::with_capacity(SLOTS);
    // Every workgroup takes a block of each slot: as many as the longest needs.
    let mut workgroups = 0u32;
    let inputs = params.into_iter().zip(grads).zip(moments);
    for (k, ((p, g), m)) in inputs.enumerate() {
        let n = sizes[k];
        let [p, g, m, p_out, m_out] = if k < used {
            let [p, g, m] = [p, g, m].map(into_contiguous);
            let (p_out, m_out) = (empty(&p, [n]), empty(&p, [2 * n]));
            [p, g, m, p_out, m_out]
        } else {
            [(); 5].map(spare)
        };
        for t in [&p, &g, &m, &p_out, &m_out] {
            bindings.push(t.handle.clone().binding());
        }
        // A thread per Value (four floats where every length allows).
        let blocks = (n / lanes).div_ceil(THREADS as usize) as u32;
        workgroups = workgroups.max(blocks);
        outputs_p.push(p_out);
        outputs_m.push(m_out);
    }
    let (width, _) = grid(workgroups.max(1));
    let mut settings = vec![
        step.beta_1,
        step.beta_2,
        step.factor,
        step.epsilon,
        step.learning_rate,
        step.weight_decay,
        f32::from_bits(width),
    ];
    for size in &sizes {
        settings.push(f32::from_bits((size / lanes) as u32));
    }
    bindings.push(
        like.client
            .create_from_slice(bytemuck::cast_slice(&settings))
            .binding(),
    );
    if workgroups > 0 {
        WgslKernel::new(
            "adam",
            ADAM,
            vec![
                ("threads", THREADS.to_string()),
                ("value", if lanes == 4 { "vec4<f32>" } else { "f32" }.into()),
            ],
            THREADS,
        )
        .launch(
            &like.client,
            workgroups,
            KernelArguments::new().with_buffers(bindings),
        );
    }
    let mut all = outputs_p;
    all.extend(outputs_m);
    all.try_into()
        .unwrap_or_else(|_| unreachable!("{SLOTS} parameters and {SLOTS} moments"))
}
