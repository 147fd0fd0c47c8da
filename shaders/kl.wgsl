// The VAE's KL term of the training loss in one pass:
// scale * sum over all values of (exp(lv) + mean^2 - lv - 1), lv =
// clamp(raw, -20, 20), where scale folds in the 1/2, the mean over the batch,
// the per-value normalisation and the KL weight. One workgroup sums by tree
// reduction in workgroup memory (the latent codes are small).

const THREADS: u32 = 256u;

// binding 0: the posterior mean, [batch, latent].
@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
// binding 1: the log-variance before the clamp, [batch, latent].
@group(0) @binding(1) var<storage, read_write> raw: array<f32>;
// binding 2: output, the term, [1].
@group(0) @binding(2) var<storage, read_write> term: array<f32>;
// binding 3: [0] values.
@group(0) @binding(3) var<storage, read_write> params: array<u32>;
// binding 4: [0] scale.
@group(0) @binding(4) var<storage, read_write> scale: array<f32>;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    let n = params[0];
    var sum = 0.0;
    for (var i = lid; i < n; i += THREADS) {
        let lv = clamp(raw[i], -20.0, 20.0);
        let m = mean[i];
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
