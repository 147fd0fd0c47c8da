"""earshot's autoencoders as PyTorch modules, for models exported with
`earshot export model RUN_DIR --out model.safetensors`.

The state_dict of each module here has exactly the names and shapes of the
exported file (burn's module paths), so loading is strict:

    import json, torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from pytorch_models import from_safetensors
    model, meta = from_safetensors("model.safetensors")   # eval mode
    x = (features - mean) / std                            # meta["normalizer"]
    recon = model(windows)                                 # [batch, frames, coeffs]

Layout notes (burn's, kept so the names map one to one):
- Linear weights are [in, out] (y = x @ W + b), not torch's [out, in];
- convolutions are torch's layout ([out, in, k, k]; transposed: [in, out, k, k]);
- a window is [frames, coeffs]; the convolutional models see it as a
  [1, coeffs, frames] image (time is the width);
- LSTM gates are fused in one Linear of [input + hidden, 4 * hidden] over
  concat(x_t, h), gate order input, forget, cell, output ("Lstm"); burn's
  own LSTM ("BiLstm") and GRU ("Gru") keep one Linear per gate and input /
  hidden side; the GRU applies the reset gate after the hidden product.
"""
import json

import torch
from torch import nn
import torch.nn.functional as F


class Linear(nn.Module):
    def __init__(self, d_in, d_out, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_in, d_out))
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


class BatchNorm(nn.Module):
    """burn's BatchNorm at inference: running statistics, epsilon 1e-5."""

    def __init__(self, n):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.beta = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x):
        return (x - self.running_mean) / torch.sqrt(self.running_var + 1e-5) * self.gamma + self.beta


class DenseBlock(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear = Linear(d_in, d_out)
        self.norm = BatchNorm(d_out)

    def forward(self, x):
        return F.relu(self.norm(self.linear(x)))


class DenseAe(nn.Module):
    def __init__(self, cfg, frames, coeffs):
        super().__init__()
        widths = [frames * coeffs, *cfg["hidden"], cfg["bottleneck"], *reversed(cfg["hidden"])]
        self.blocks = nn.ModuleList(DenseBlock(a, b) for a, b in zip(widths, widths[1:]))
        self.output = Linear(widths[-1], frames * coeffs)

    def forward(self, x):
        b, t, c = x.shape
        h = x.reshape(b, t * c)
        for block in self.blocks:
            h = block(h)
        return self.output(h).reshape(b, t, c)


class Conv2d(nn.Module):
    def __init__(self, c_in, c_out, k, stride, padding):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class ConvTranspose2d(nn.Module):
    def __init__(self, c_in, c_out, k, stride, padding, padding_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(c_in, c_out, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.stride, self.padding, self.padding_out = stride, padding, padding_out

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.padding_out)


def conv_stack(channels, k, s, frames, coeffs):
    """The encoder and decoder layers and the code shape, as earshot sizes them."""
    p = k // 2
    sizes, widths, encoder = [(coeffs, frames)], [1], []
    for c in channels:
        h, w = sizes[-1]
        encoder.append(Conv2d(widths[-1], c, k, s, p))
        sizes.append(((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1))
        widths.append(c)
    restored = lambda n: (n - 1) * s + k - 2 * p
    decoder = []
    for layer in reversed(range(len(channels))):
        (h_in, w_in), (h_out, w_out) = sizes[layer + 1], sizes[layer]
        decoder.append(ConvTranspose2d(widths[layer + 1], widths[layer], k, s, p,
                                       (h_out - restored(h_in), w_out - restored(w_in))))
    return nn.ModuleList(encoder), nn.ModuleList(decoder), (widths[-1], *sizes[-1])


def conv_encode(layers, x):
    b, t, c = x.shape
    h = x.transpose(1, 2).reshape(b, 1, c, t)
    for conv in layers:
        h = F.relu(conv(h))
    return h


def conv_decode(layers, h, frames, coeffs):
    for i, deconv in enumerate(layers):
        h = deconv(h)
        if i < len(layers) - 1:
            h = F.relu(h)
    return h.reshape(h.shape[0], coeffs, frames).transpose(1, 2)


class ConvAe(nn.Module):
    def __init__(self, cfg, frames, coeffs):
        super().__init__()
        self.encoder, self.decoder, self.code_shape = conv_stack(
            cfg["channels"], cfg["kernel"], cfg["stride"], frames, coeffs)
        code = self.code_shape[0] * self.code_shape[1] * self.code_shape[2]
        latent = cfg.get("latent")
        self.to_latent = Linear(code, latent) if latent else None
        self.from_latent = Linear(latent, code) if latent else None

    def forward(self, x):
        b, t, c = x.shape
        h = conv_encode(self.encoder, x)
        if self.to_latent is not None:
            z = self.to_latent(h.reshape(b, -1))
            h = F.relu(self.from_latent(z)).reshape(b, *self.code_shape)
        return conv_decode(self.decoder, h, t, c)


class FusedLstm(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        self.cell = Linear(d_in + hidden, 4 * hidden)
        self.hidden = hidden

    def forward(self, x):
        b, t, _ = x.shape
        n = self.hidden
        h = x.new_zeros(b, n)
        c = x.new_zeros(b, n)
        out = []
        for step in range(t):
            gates = self.cell(torch.cat([x[:, step], h], dim=1))
            i, f, g, o = (gates[:, k * n:(k + 1) * n] for k in range(4))
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, dim=1)


class GateController(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        self.input_transform = Linear(d_in, hidden)
        self.hidden_transform = Linear(hidden, hidden)

    def forward(self, x, h, reset=None):
        hp = self.hidden_transform(h)
        return self.input_transform(x) + (reset * hp if reset is not None else hp)


class BurnLstm(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        for gate in ("input_gate", "forget_gate", "output_gate", "cell_gate"):
            setattr(self, gate, GateController(d_in, hidden))
        self.hidden = hidden

    def forward(self, x):
        b, t, _ = x.shape
        h = x.new_zeros(b, self.hidden)
        c = x.new_zeros(b, self.hidden)
        out = []
        for step in range(t):
            xt = x[:, step]
            i = torch.sigmoid(self.input_gate(xt, h))
            f = torch.sigmoid(self.forget_gate(xt, h))
            o = torch.sigmoid(self.output_gate(xt, h))
            g = torch.tanh(self.cell_gate(xt, h))
            c = f * c + i * g
            h = o * torch.tanh(c)
            out.append(h)
        return torch.stack(out, dim=1)


class BiLstm(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        # burn names the forward direction "forward", which nn.Module's method
        # shadows as an attribute: registered directly so the names still match.
        self._modules["forward"] = BurnLstm(d_in, hidden)
        self.reverse = BurnLstm(d_in, hidden)

    def forward(self, x):
        fwd = self._modules["forward"](x)
        rev = self.reverse(torch.flip(x, dims=[1])).flip(dims=[1])
        return torch.cat([fwd, rev], dim=2)


class Gru(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        self.update_gate = GateController(d_in, hidden)
        self.reset_gate = GateController(d_in, hidden)
        self.new_gate = GateController(d_in, hidden)
        self.hidden = hidden

    def forward(self, x):
        b, t, _ = x.shape
        h = x.new_zeros(b, self.hidden)
        out = []
        for step in range(t):
            xt = x[:, step]
            z = torch.sigmoid(self.update_gate(xt, h))
            r = torch.sigmoid(self.reset_gate(xt, h))
            n = torch.tanh(self.new_gate(xt, h, reset=r))
            h = (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, dim=1)


class RecurrentLayer(nn.Module):
    """One layer, under the name of its kind (Lstm, BiLstm or Gru), as burn's enum."""

    def __init__(self, kind, d_in, hidden):
        super().__init__()
        self.kind = kind
        layer = {"Lstm": FusedLstm, "BiLstm": BiLstm, "Gru": Gru}[kind](d_in, hidden)
        self.add_module(kind, layer)

    def forward(self, x):
        return self._modules[self.kind](x)


class RnnAe(nn.Module):
    def __init__(self, cfg, frames, coeffs):
        super().__init__()
        hidden, layers = cfg["hidden"], cfg["layers"]

        def kind(bidirectional):
            if cfg["cell"] == "gru":
                return "Gru"
            return "BiLstm" if bidirectional else "Lstm"

        encoder, width = [], coeffs
        for i in range(layers):
            bi = cfg.get("bidirectional", False) and i == 0
            encoder.append(RecurrentLayer(kind(bi), width, hidden))
            width = 2 * hidden if bi else hidden
        self.encoder = nn.ModuleList(encoder)
        self.to_latent = Linear(width, cfg["latent"])
        decoder, width = [], cfg["latent"]
        for _ in range(layers):
            decoder.append(RecurrentLayer(kind(False), width, hidden))
            width = hidden
        self.decoder = nn.ModuleList(decoder)
        self.head = Linear(width, coeffs)

    def forward(self, x):
        frames = x.shape[1]
        h = x
        for layer in self.encoder:
            h = layer(h)
        latent = self.to_latent(h[:, -1])
        d = latent.unsqueeze(1).repeat(1, frames, 1)
        for layer in self.decoder:
            d = layer(d)
        return self.head(d)


class Vae(nn.Module):
    """Returns (reconstruction, kl per window); evaluation uses z = mean."""

    def __init__(self, cfg, frames, coeffs):
        super().__init__()
        latent = cfg["latent"]
        chain = lambda w: nn.ModuleList(Linear(a, b) for a, b in zip(w, w[1:]))
        if cfg["encoder"] == "dense":
            down = [frames * coeffs, *cfg["hidden"]]
            up = [latent, *reversed(cfg["hidden"])]
            self.encoder, self.decoder = chain(down), chain(up)
            self.conv_down, self.conv_up = nn.ModuleList(), nn.ModuleList()
            top, self.code_shape = down[-1], None
            self.output = Linear(up[-1], frames * coeffs)
        else:
            self.conv_down, self.conv_up, self.code_shape = conv_stack(
                cfg["channels"], cfg["kernel"], cfg["stride"], frames, coeffs)
            top = self.code_shape[0] * self.code_shape[1] * self.code_shape[2]
            self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
            self.output = Linear(latent, top)
        self.mean = Linear(top, latent)
        self.log_var = Linear(top, latent)

    def forward(self, x):
        b, t, c = x.shape
        h = x.reshape(b, t * c) if self.code_shape is None else conv_encode(self.conv_down, x).reshape(b, -1)
        for layer in self.encoder:
            h = F.relu(layer(h))
        mean = self.mean(h)
        log_var = self.log_var(h).clamp(-20.0, 20.0)
        kl = (log_var.exp() + mean.square() - log_var - 1.0).sum(dim=1) * (0.5 / (t * c))
        d = mean
        for layer in self.decoder:
            d = F.relu(layer(d))
        if self.code_shape is None:
            return self.output(d).reshape(b, t, c), kl
        code = F.relu(self.output(d)).reshape(b, *self.code_shape)
        return conv_decode(self.conv_up, code, t, c), kl


KINDS = {"dense": DenseAe, "cae": ConvAe, "rnn": RnnAe, "vae": Vae}


def from_safetensors(path):
    """The model of an exported file (eval mode) and its metadata (JSON values decoded)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        raw = f.metadata()
    meta = {k: (json.loads(v) if k in ("model", "features", "window", "eval", "normalizer", "threshold") else v)
            for k, v in raw.items()}
    cfg = meta["model"]
    window = meta["window"]
    model = KINDS[cfg["kind"]](cfg, window["frames"], window["coeffs"])
    model.load_state_dict(load_file(path), strict=True)
    return model.eval(), meta
