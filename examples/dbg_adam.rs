use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::DeviceKind;
use earshot::train::gpu_adam::ChunkedAdam;
#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}
fn main() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let net = Net {
        a: LinearConfig::new(640, 256).init(&device),
        b: LinearConfig::new(256, 640).init(&device),
    };
    let x = Tensor::<2>::ones([64, 640], &device);
    let grads_of = |n: &Net| {
        GradientsParams::from_grads(n.b.forward(n.a.forward(x.clone())).sum().backward(), n)
    };
    for which in ["chunked", "burn", "chunked", "burn", "none"] {
        let mut n = net.clone();
        let mut chunked = ChunkedAdam::new(None);
        let mut burn = AdamConfig::new().init();
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let g = grads_of(&n);
            n = match which {
                "chunked" => chunked.step(1e-3, n, g),
                "burn" => burn.step(1e-3, n, g),
                _ => n,
            };
        }
        let _ = n.a.weight.val().sum().into_scalar::<f32>();
        println!("{which}: {:?} per step", t.elapsed() / 20);
    }
}
