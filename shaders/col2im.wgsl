// col2im, the adjoint of im2col.wgsl: columns [batch, C * KH * KW, SH * SW]
// summed back into the big image [batch, C, H, W], one thread per image
// value, which adds every (kernel offset, grid position) that read it, so
// overlapping windows do not race. A convolution's input gradient and a
// transposed convolution's output are this of a matmul's result.

const THREADS: u32 = 64u;

// binding 0: the columns, [batch, C * KH * KW, SH * SW].
@group(0) @binding(0) var<storage, read_write> columns: array<f32>;
// binding 1: output, the image, [batch, C, H, W].
@group(0) @binding(1) var<storage, read_write> image: array<f32>;
// binding 2: as im2col.wgsl's.
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
    let stride_h = params[8];
    let stride_w = params[9];
    let positions = sh * sw;
    let patch_len = channels * kh * kw;
    let total = params[0] * channels * h * w;
    let i = (wg.x + wg.y * params[12]) * THREADS + lid;
    if (i >= total) {
        return;
    }
    let x = i % w;
    let y = (i / w) % h;
    let c = (i / (w * h)) % channels;
    let b = i / (w * h * channels);
    var sum = 0.0;
    for (var dy = 0u; dy < kh; dy++) {
        // The window row whose offset dy lands on image row y, if any.
        let top = i32(y + params[10]) - i32(dy);
        if (top < 0 || u32(top) % stride_h != 0u || u32(top) / stride_h >= sh) {
            continue;
        }
        let gy = u32(top) / stride_h;
        for (var dx = 0u; dx < kw; dx++) {
            let left = i32(x + params[11]) - i32(dx);
            if (left < 0 || u32(left) % stride_w != 0u || u32(left) / stride_w >= sw) {
                continue;
            }
            let gx = u32(left) / stride_w;
            let row = (c * kh + dy) * kw + dx;
            sum += columns[(b * patch_len + row) * positions + gy * sw + gx];
        }
    }
    image[i] = sum;
}
