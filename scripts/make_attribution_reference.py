#!/usr/bin/python3
"""Reference input attributions (Input x Gradient, Integrated Gradients, SmoothGrad, SmoothGrad^2, VarGrad,
RISE) and score targets (sigmoid, contrast) for test/unit/attribution-reference.test.ts.

Each method is this script's own PyTorch code of the paper's equation, run in float64 (model.double()) on the
reference families of scripts/make_reference.py (same modules, same seeds, so the same weights as the
committed test/fixtures/ref/<family>_op17.onnx). The random numbers come from the same generators as
src/core/methods/prng.ts (mulberry32, Box-Muller), reimplemented below, so SmoothGrad's noise, the noise
baseline and RISE's masks are the ones Look Closer draws for the same seed.

    /usr/bin/python3 scripts/make_attribution_reference.py     # from the repository root, ~1 min on two cores

Needs Debian's python3-torch (1.13). Writes test/fixtures/attribution-ref/<family>/*.npy (float16: the test
compares cosines, and float16's 1e-3 relative rounding moves a cosine by ~1e-7) and index.json.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_reference as ref  # noqa: E402  (the family builders, seeds and weight initialisation)

OUT = os.path.join(ROOT, "test", "fixtures", "attribution-ref")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
FAMILIES = ("resnet", "vgg", "mobilenetv2", "densenet", "inception", "squeezenet")
# The black baseline is pixel 0 through this preprocessing: (0 * scale - mean) / std per channel.
PREPROCESSING = {"preset": "torchvision", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
torch.set_num_threads(2)
M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# src/core/methods/prng.ts
# ---------------------------------------------------------------------------------------------
def _imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    state = [seed & M32]

    def nxt():
        a = (state[0] + 0x6D2B79F5) & M32
        state[0] = a
        t = _imul(a ^ (a >> 15), 1 | a)
        t = ((t + _imul(t ^ (t >> 7), 61 | t)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    return nxt


def normals(uniform):
    spare = []

    def nxt():
        if spare:
            return spare.pop()
        u1 = 1.0 - uniform()
        u2 = uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        spare.append(r * math.sin(2.0 * math.pi * u2))
        return r * math.cos(2.0 * math.pi * u2)

    return nxt


# ---------------------------------------------------------------------------------------------
# Scores and gradients
# ---------------------------------------------------------------------------------------------
def score(logits, c, target):
    """The explained score per row of logits [B, K] (src/core/methods/score-target.ts)."""
    if target == "logit":
        return logits[:, c]
    if target == "softmax":
        return torch.softmax(logits, dim=1)[:, c]
    if target == "sigmoid":
        return torch.sigmoid(logits[:, c])
    if target.startswith("contrast:"):
        return logits[:, c] - logits[:, int(target.split(":")[1])]
    raise ValueError(target)


def grads(net, xs, c, target="logit", mode="normal"):
    """d score_c / d x for each row of xs [B, 3, H, W] (rows are independent in eval mode)."""
    ref.RULE["mode"] = mode
    try:
        xs = xs.clone().requires_grad_(True)
        logits, _ = net(xs)
        (g,) = torch.autograd.grad(score(logits, c, target).sum(), [xs])
    finally:
        ref.RULE["mode"] = "normal"
    return g.detach()


def scores(net, xs, c, target):
    with torch.no_grad():
        return score(net(xs)[0], c, target)


# ---------------------------------------------------------------------------------------------
# Methods (each the paper's equation)
# ---------------------------------------------------------------------------------------------
def input_x_gradient(net, x, c, target):
    """Shrikumar et al. 2016 / Ancona et al. 2018 eq. 2: x * dS_c/dx."""
    return x[0] * grads(net, x, c, target)[0]


def gaussian_blur(x, sigma):
    """Separable Gaussian, radius ceil(3 sigma), edges replicated (integrated-gradients.ts gaussianBlur)."""
    r = math.ceil(3 * sigma)
    k = torch.tensor([math.exp(-((i - r) ** 2) / (2 * sigma * sigma)) for i in range(2 * r + 1)], dtype=torch.float64)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(x, (r, r, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, r, r), mode="replicate")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def baseline(x, kind, seed):
    if kind == "black":
        mean = torch.tensor(PREPROCESSING["mean"], dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor(PREPROCESSING["std"], dtype=torch.float64).view(1, 3, 1, 1)
        return ((0 - mean) / std).expand_as(x).clone()
    if kind == "blur":
        return gaussian_blur(x, max(1.0, min(ref.H, ref.W) / 32))
    if kind == "noise":
        lo, hi = float(x.min()), float(x.max())
        u = mulberry32(seed)
        return torch.tensor([lo + (hi - lo) * u() for _ in range(x.numel())], dtype=torch.float64).view_as(x)
    raise ValueError(kind)


def integrated_gradients(net, x, c, target, steps, xb):
    """Sundararajan et al. 2017 eq. 3 (right Riemann sum): (x - x') * (1/m) sum_k dF(x' + k/m (x - x'))/dx."""
    alphas = torch.arange(1, steps + 1, dtype=torch.float64).view(-1, 1, 1, 1) / steps
    xs = xb + alphas * (x - xb)
    g = grads(net, xs, c, target).mean(dim=0)
    attr = (x[0] - xb[0]) * g
    f = scores(net, torch.cat([x, xb]), c, target)
    return attr, float(attr.sum() - (f[0] - f[1]))


def noisy_copies(x, samples, level, seed):
    """x + eps_i, eps_i ~ N(0, sigma^2), sigma = level (max x - min x), drawn element by element, sample after sample."""
    sigma = level * float(x.max() - x.min())
    z = normals(mulberry32(seed))
    n = x.numel()
    eps = torch.tensor([z() for _ in range(samples * n)], dtype=torch.float64).view(samples, *x.shape[1:])
    return x + sigma * eps


def noise_tunnel(net, x, c, target, samples, level, seed, mode="normal"):
    """SmoothGrad (Smilkov et al. 2017 eq. 2), SmoothGrad^2 (Hooker et al. 2019) and VarGrad (Adebayo et al. 2018)."""
    g = grads(net, noisy_copies(x, samples, level, seed), c, target, mode)
    return {"smoothgrad": g.mean(dim=0), "smoothgrad-squared": (g * g).mean(dim=0), "vargrad": g.var(dim=0, unbiased=False)}


def rise_masks(n, h, w, s, p, seed):
    """RISE masks (Petsiuk et al. 2018 sec. 3.2) from the same draws as rise.ts, upsampled by PyTorch's bilinear interpolate."""
    u = mulberry32(seed)
    ch, cw = math.ceil(h / s), math.ceil(w / s)
    out = torch.empty((n, 1, h, w), dtype=torch.float64)
    for i in range(n):
        cells = torch.tensor([1.0 if u() < p else 0.0 for _ in range(s * s)], dtype=torch.float64).view(1, 1, s, s)
        dy, dx = math.floor(u() * ch), math.floor(u() * cw)
        up = F.interpolate(cells, size=((s + 1) * ch, (s + 1) * cw), mode="bilinear", align_corners=False)
        out[i] = up[0, :, dy:dy + h, dx:dx + w]
    return out


def rise(net, x, classes, target, n, s, p, seed):
    """eq. 6: S_c = sum_i f_c(x * M_i) M_i / (N p)."""
    masks = rise_masks(n, ref.H, ref.W, s, p, seed)
    out = []
    for c in classes:
        f = torch.cat([scores(net, x * masks[i:i + 100], c, target) for i in range(0, n, 100)])
        out.append((f.view(-1, 1, 1) * masks[:, 0]).sum(dim=0) / (n * p))
    return torch.stack(out)


def grad_cam(net, x, c, target):
    """Selvaraju et al. 2017 eq. 1-2 before the ReLU: sum_k mean_hw(dS/dA_k) A_k (for the target checks)."""
    xs = x.clone()
    logits, feats = net(xs)
    (g,) = torch.autograd.grad(score(logits, c, target).sum(), [feats])
    return (g.mean(dim=(2, 3), keepdim=True) * feats).sum(dim=1)[0].detach()


# ---------------------------------------------------------------------------------------------
def save(fdir, family, name, arr):
    rel = f"{family}/{name}.npy"
    np.save(os.path.join(fdir, f"{name}.npy"), np.ascontiguousarray(np.asarray(arr, dtype=np.float64).astype(np.float16)))
    return rel


def main():
    with open(os.path.join(REF_DIR, "index.json")) as f:
        ref_index = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    u = mulberry32(42)
    z = normals(mulberry32(42))
    index = {
        "generator": "scripts/make_attribution_reference.py",
        "torch": torch.__version__,
        "dtype": "float64 (model.double() on the weights of scripts/make_reference.py); stored as float16",
        "preprocessing": PREPROCESSING,
        "prng": {"seed": 42, "mulberry32": [u() for _ in range(8)], "normals": [z() for _ in range(8)]},
        "conventions": {
            "attribution": "(classes, 3, H, W) per class, in the order of 'classes'",
            "rise": "(classes, H, W) saliency before normalisation",
            "gradcam": "(classes, h, w) at the layer before the ReLU; compared after a ReLU",
        },
        "families": {},
    }
    ig = {"steps": 16}
    tunnel = {"samples": 8, "noise": 0.15, "seed": 3}
    rise_opts = {"masks": 300, "grid": 5, "keep": 0.5, "seed": 11}
    for fi, (family, cls, opsets, extra) in enumerate(ref.FAMILIES):
        if family not in FAMILIES:
            continue
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        x = torch.randn((1, 3, ref.H, ref.W), generator=torch.Generator().manual_seed(2000 + fi))
        fam = ref_index["families"][family]
        assert np.array_equal(x.numpy(), np.load(os.path.join(REF_DIR, fam["input"]))), f"{family}: input differs"
        with torch.no_grad():
            logits32, _ = net(x)
        assert np.abs(logits32.numpy() - np.load(os.path.join(REF_DIR, fam["logits"]))).max() < 1e-5, f"{family}: weights differ"
        net = net.double().eval()
        x = x.double()
        classes = fam["classes"]
        fdir = os.path.join(OUT, family)
        os.makedirs(fdir, exist_ok=True)
        cases = []

        def case(method, name, arr, target="logit", options=None, **more):
            cases.append({"method": method, "target": target, "options": options or {}, "file": save(fdir, family, name, arr), **more})

        case("input-x-gradient", "input-x-gradient", torch.stack([input_x_gradient(net, x, c, "logit") for c in classes]))
        for kind in ("black", "blur", "noise"):
            opts = {**ig, "baseline": kind, **({"seed": 5} if kind == "noise" else {})}
            xb = baseline(x, kind, 5)
            res = [integrated_gradients(net, x, c, "logit", ig["steps"], xb) for c in classes]
            case("integrated-gradients", f"ig-{kind}", torch.stack([a for a, _ in res]), options=opts, completeness_gap=[g for _, g in res])
        nt = [noise_tunnel(net, x, c, "logit", tunnel["samples"], tunnel["noise"], tunnel["seed"]) for c in classes]
        for mid in ("smoothgrad", "smoothgrad-squared", "vargrad"):
            case(mid, mid, torch.stack([r[mid] for r in nt]), options=tunnel)
        case("rise", "rise", rise(net, x, classes, "logit", **{k: rise_opts[k] for k in ("seed",)}, n=rise_opts["masks"], s=rise_opts["grid"], p=rise_opts["keep"]), options=rise_opts)
        if family == "resnet":
            # Targets: sigmoid and contrast against the other explained class; SmoothGrad over guided backprop; RISE on softmax.
            other = f"contrast:{classes[1]}"
            for target in ("sigmoid", other, "softmax"):
                tag = target.replace(":", "")
                case("saliency", f"saliency-{tag}", torch.stack([grads(net, x, c, target)[0] for c in classes]), target=target)
                case("gradcam", f"gradcam-{tag}", torch.stack([grad_cam(net, x, c, target) for c in classes]), target=target)
            case("guided-backprop", "guided-sigmoid", torch.stack([grads(net, x, c, "sigmoid", "guided")[0] for c in classes]), target="sigmoid")
            case("integrated-gradients", "ig-black-contrast", torch.stack([integrated_gradients(net, x, c, other, ig["steps"], baseline(x, "black", 5))[0] for c in classes]),
                 target=other, options={**ig, "baseline": "black"})
            gt = {**tunnel, "inner": "guided-backprop"}
            case("smoothgrad", "smoothgrad-guided", torch.stack([noise_tunnel(net, x, c, "logit", 8, 0.15, 3, "guided")["smoothgrad"] for c in classes]), options=gt)
            case("rise", "rise-softmax", rise(net, x, classes, "softmax", n=rise_opts["masks"], s=rise_opts["grid"], p=rise_opts["keep"], seed=rise_opts["seed"]),
                 target="softmax", options=rise_opts)
        index["families"][family] = {"model": f"../ref/{family}_op17.onnx", "input": f"../ref/{fam['input']}", "classes": classes, "cases": cases}
        print(f"{family}: {len(cases)} cases", file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
