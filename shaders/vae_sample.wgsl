// The VAE's reparameterised sample and the KL term of its loss in one pass:
// z = mean + exp(lv / 2) * noise per value, lv = clamp(raw, -20, 20) (the
// clamp keeps exp() finite early in training), and
// scale * sum(exp(lv) + mean^2 - lv - 1) over all values, where scale folds
// in the 1/2, the batch mean, the per-value normalisation and the KL weight.
// One workgroup (the latent codes are small) sums by tree reduction in
// workgroup memory. burn runs the clamp, exp, products, sums and mean as
// several kernels, and as many again backward.

const THREADS: u32 = 256u;

// binding 0: the posterior mean, [batch, latent].
@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
// binding 1: the log-variance before the clamp, [batch, latent].
@group(0) @binding(1) var<storage, read_write> raw: array<f32>;
// binding 2: standard normal noise, [batch, latent].
@group(0) @binding(2) var<storage, read_write> noise: array<f32>;
// binding 3: output, the sample z, [batch, latent].
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
// binding 4: output, the KL term, [1].
@group(0) @binding(4) var<storage, read_write> term: array<f32>;
// binding 5: [0] values.
@group(0) @binding(5) var<storage, read_write> params: array<u32>;
// binding 6: [0] scale.
@group(0) @binding(6) var<storage, read_write> scale: array<f32>;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    let n = params[0];
    var sum = 0.0;
    for (var i = lid; i < n; i += THREADS) {
        let lv = clamp(raw[i], -20.0, 20.0);
        let m = mean[i];
        z[i] = m + exp(lv * 0.5) * noise[i];
        sum += exp(lv) + m * m - lv - 1.0;
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var half = THREADS / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            partial[lid] += partial[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        term[0] = partial[0] * scale[0];
    }
}
