// im2col for 2-D convolutions on the GPU: the big image [batch, C, H, W]
// (NCHW) to columns [batch, C * KH * KW, SH * SW], one thread per column
// value: the image value under kernel offset (kh, kw) of the window at grid
// position (sh, sw), or 0 in the padding. A convolution's output is then one
// matmul by the [out, C * KH * KW] weight; a transposed convolution's
// weight gradient and input gradient use it on the output gradient.

const THREADS: u32 = 64u;

// binding 0: the image, [batch, C, H, W].
@group(0) @binding(0) var<storage, read_write> image: array<f32>;
// binding 1: output, the columns, [batch, C * KH * KW, SH * SW].
@group(0) @binding(1) var<storage, read_write> columns: array<f32>;
// binding 2: [0] batch, [1] C, [2] H, [3] W, [4] SH, [5] SW, [6] KH, [7] KW,
// [8] stride h, [9] stride w, [10] padding h, [11] padding w,
// [12] threads per row of the grid.
@group(0) @binding(2) var<storage, read_write> params: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let channels = params[1];
    let h = params[2];
    let w = params[3];
    let sh = params[4];
    let sw = params[5];
    let kh = params[6];
    let kw = params[7];
    let positions = sh * sw;
    let patch_len = channels * kh * kw;
    let total = params[0] * patch_len * positions;
    let i = (wg.x + wg.y * params[12]) * THREADS + lid;
    if (i >= total) {
        return;
    }
    let position = i % positions;
    let row = (i / positions) % patch_len;
    let b = i / (positions * patch_len);
    let c = row / (kh * kw);
    let dy = (row / kw) % kh;
    let dx = row % kw;
    let y = i32((position / sw) * params[8] + dy) - i32(params[10]);
    let x = i32((position % sw) * params[9] + dx) - i32(params[11]);
    var value = 0.0;
    if (y >= 0 && y < i32(h) && x >= 0 && x < i32(w)) {
        value = image[((b * channels + c) * h + u32(y)) * w + u32(x)];
    }
    columns[i] = value;
}
