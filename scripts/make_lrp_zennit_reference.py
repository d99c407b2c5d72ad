#!/usr/bin/python3
"""Reference LRP relevances computed with Zennit itself, for test/unit/lrp-zennit.test.ts: Zennit's composites
(EpsilonPlus, EpsilonAlpha2Beta1, EpsilonPlusFlat, EpsilonAlpha2Beta1Flat, EpsilonGammaBox) run in float64 on the
reference families of scripts/make_reference.py (same modules, seeds and weights as test/fixtures/ref/<family>_op17.onnx),
with the BatchNorms folded into their convolutions as the ONNX export folds them (scripts/make_lrp_reference.py).

    git -C <zennit mirror> worktree add /tmp/zennit 6b0bbdfb472949ba769c9cba96664d2e345cba6e   # or git archive
    /usr/bin/python3 scripts/make_lrp_zennit_reference.py /tmp/zennit      # from the repository root, ~30 s

Zennit is fetched (github:chr5tphr/zennit at ZENNIT_COMMIT) and imported from the checkout given as the argument; none
of its code is in this repository. Needs Debian's python3-torch (1.13), python3-torchvision and python3-onnx. Writes
test/fixtures/lrp-ref/zennit/<family>/<case>.npy (float32, (classes, 3, H, W)) and index.json.

How the families are handed to Zennit (the composites themselves are Zennit's, unchanged):
  - canonizers as Zennit's own ResNet canonizer does it (zennit.canonizers.AttributeCanonizer): the residual additions
    of the ResNet and MobileNetV2 blocks go through zennit.layer.Sum (Zennit's Norm rule: a proportional split, as
    Look Closer's Add), and ShuffleNet's spatial mean through an AdaptiveAvgPool2d (Norm, as Look Closer's ReduceMean);
  - layer_map prefix (Zennit's documented way to extend a composite): the families' Rect module (ReLU / ReLU6) gets
    Pass, as Zennit maps torch.nn.ReLU and ReLU6; a BatchNorm that no convolution precedes (DenseNet's, kept by
    the export) gets Norm, the rule Look Closer has always applied to BatchNormalization (a linear layer whose
    shift keeps its share), where Zennit's default is Pass (it expects canonizers to fold every BatchNorm away).
    The script prints how far Zennit's default Pass would be on DenseNet;
  - the relevance starts from the explained logit (grad_outputs = one-hot * z_c; Zennit's rules are linear in it),
    Look Closer's convention, where Zennit's examples start from 1.
Cases: each composite at Zennit's defaults (epsilon = stabilizer = 1e-6, gamma 0.25, alpha 2, beta 1), EpsilonGammaBox
with zB bounds per channel = the input's minimum and maximum (Look Closer's default), plus 'epsilon-alpha1-beta0'
(EpsilonAlpha2Beta1 with AlphaBeta(alpha=1, beta=0) on convolutions) and 'epsilon-gamma-box-bounds' (low per channel
floor(channel min) - 1, high one value ceil(max) + 1, gamma 0.5), which exercise --lrp-alpha/--lrp-beta and --lrp-low/--lrp-high/--lrp-gamma.
Then the same on the nets with every bias zeroed: Zennit's relevance sums and the logits, for the conservation test.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

ZENNIT_COMMIT = "6b0bbdfb472949ba769c9cba96664d2e345cba6e"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_reference as ref  # noqa: E402  (the family builders, seeds and weight initialisation)
import make_lrp_reference as own  # noqa: E402  (BatchNorm folding and bias zeroing, shared with the ε/z⁺ reference)

OUT = os.path.join(ROOT, "test", "fixtures", "lrp-ref", "zennit")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
torch.set_num_threads(2)


def load_zennit(path):
    src = os.path.join(path, "src")
    sys.path.insert(0, src if os.path.isdir(os.path.join(src, "zennit")) else path)
    try:
        head = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        head = None  # an exported tree (git archive) has no history; the caller vouches for the commit
    if head is not None and head != ZENNIT_COMMIT:
        sys.exit(f"{path} is Zennit at {head}; check out {ZENNIT_COMMIT}")
    import zennit  # noqa: F401
    return head or f"{ZENNIT_COMMIT} (exported tree, not verified)"


def canonizers():
    from zennit.canonizers import AttributeCanonizer
    from zennit.layer import Sum

    def block_forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.canonizer_sum(torch.stack([self.conv2(self.conv1(x)), identity], dim=-1)))

    def inverted_forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return self.canonizer_sum(torch.stack([x, y], dim=-1)) if self.use_res else y

    def shufflenet_forward(self, x):
        f = self.conv5(self.unit2(self.unit1(self.stem(x))))
        return self.fc(torch.flatten(self.canonizer_pool(f), 1)), f

    def attributes(name, module):
        if isinstance(module, ref.BasicBlock):
            return {"forward": block_forward.__get__(module), "canonizer_sum": Sum()}
        if isinstance(module, ref.InvertedResidual):
            return {"forward": inverted_forward.__get__(module), "canonizer_sum": Sum()}
        if isinstance(module, ref.ShuffleNet):
            return {"forward": shufflenet_forward.__get__(module), "canonizer_pool": nn.AdaptiveAvgPool2d(1)}
        return None

    return [AttributeCanonizer(attributes)]


class Logits(nn.Module):
    """The family's logits alone (the families also return their CAM feature map)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def composites(x, bn_rule="norm"):
    """Each case: (Zennit composite factory, Look Closer's options)."""
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus, EpsilonPlusFlat
    from zennit.rules import AlphaBeta, Norm, Pass
    from zennit.types import Convolution

    def base():
        return [(ref.Rect, Pass()), (nn.BatchNorm2d, Norm() if bn_rule == "norm" else Pass())]

    low, high = x.amin(dim=(0, 2, 3), keepdim=True), x.amax(dim=(0, 2, 3), keepdim=True)
    # --lrp-low per channel, --lrp-high one value: floor(channel minimum) - 1, ceil(maximum) + 1.
    lo = [float(math.floor(float(v)) - 1) for v in x.amin(dim=(0, 2, 3))]
    hi = float(math.ceil(float(x.max())) + 1)
    lo_t = torch.tensor(lo, dtype=x.dtype).reshape(1, -1, 1, 1)
    return {
        "epsilon-plus": (lambda: EpsilonPlus(layer_map=base(), canonizers=canonizers()), {"composite": "epsilon-plus"}),
        "epsilon-alpha2-beta1": (lambda: EpsilonAlpha2Beta1(layer_map=base(), canonizers=canonizers()), {"composite": "epsilon-alpha2-beta1"}),
        "epsilon-alpha1-beta0": (
            lambda: EpsilonAlpha2Beta1(layer_map=base() + [(Convolution, AlphaBeta(alpha=1, beta=0))], canonizers=canonizers()),
            {"composite": "epsilon-alpha2-beta1", "lrp-alpha": 1, "lrp-beta": 0}),
        "epsilon-plus-flat": (lambda: EpsilonPlusFlat(layer_map=base(), canonizers=canonizers()), {"composite": "epsilon-plus-flat"}),
        "epsilon-alpha2-beta1-flat": (lambda: EpsilonAlpha2Beta1Flat(layer_map=base(), canonizers=canonizers()), {"composite": "epsilon-alpha2-beta1-flat"}),
        "epsilon-gamma-box": (lambda: EpsilonGammaBox(low=low, high=high, layer_map=base(), canonizers=canonizers()), {"composite": "epsilon-gamma-box"}),
        "epsilon-gamma-box-bounds": (
            lambda: EpsilonGammaBox(low=lo_t, high=hi, gamma=0.5, layer_map=base(), canonizers=canonizers()),
            {"composite": "epsilon-gamma-box", "lrp-low": ",".join(f"{v:g}" for v in lo), "lrp-high": hi, "lrp-gamma": 0.5}),
    }


def first_layer_check(net, x):
    """Zennit's first layer is the first Conv/Linear in named_modules order: make sure it is the one reading the input."""
    first = next(m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    seen = []
    h = first.register_forward_pre_hook(lambda m, i: seen.append(i[0] is x))
    with torch.no_grad():
        net(x)
    h.remove()
    assert seen == [True], "the first registered layer does not read the input"


def relevance(model, x, classes, make):
    out = []
    for c in classes:
        composite = make()
        with composite.context(model) as modified:
            xg = x.clone().requires_grad_(True)
            logits = modified(xg)
            seed = torch.zeros_like(logits)
            seed[0, c] = logits[0, c].detach()
            (r,) = torch.autograd.grad(logits, xg, grad_outputs=seed)
        out.append(r.detach()[0].numpy())
    return np.stack(out)


def cos(a, b):
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    zennit_at = load_zennit(os.path.abspath(sys.argv[1]))
    with open(os.path.join(REF_DIR, "index.json")) as f:
        ref_index = json.load(f)
    index = {
        "generator": "scripts/make_lrp_zennit_reference.py",
        "zennit": {"repository": "github.com/chr5tphr/zennit", "commit": ZENNIT_COMMIT, "checkout": zennit_at},
        "torch": torch.__version__,
        "dtype": "float64 (model.double()); relevances saved as float32",
        "conventions": {
            "relevance": "Zennit's input relevance per class, shape (classes, 3, H, W), starting from the class's logit",
            "options": "what Look Closer's lrp method is given for the same case",
            "bias_free": "the same nets with every Conv/Linear bias and BatchNorm shift zeroed: logits and Zennit's relevance sums",
        },
        "families": {},
    }
    for fi, (family, cls, opsets, extra) in enumerate(ref.FAMILIES):
        if family not in own.FAMILIES:
            continue
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        x = torch.randn((1, 3, ref.H, ref.W), generator=torch.Generator().manual_seed(2000 + fi))
        fam = ref_index["families"][family]
        assert np.array_equal(x.numpy(), np.load(os.path.join(REF_DIR, fam["input"]))), f"{family}: input differs"
        net = net.double().eval()
        x64 = x.double()
        own.fold_batchnorms(net, x64)
        model = Logits(net).eval()
        first_layer_check(net, x64)
        with torch.no_grad():
            logits = model(x64)
        assert np.abs(logits.numpy() - np.load(os.path.join(REF_DIR, fam["logits"]))).max() < 1e-4, f"{family}: logits differ"
        classes = fam["classes"]
        cases = {}
        os.makedirs(os.path.join(OUT, family), exist_ok=True)
        saved = {}
        for case, (make, options) in composites(x64).items():
            rel = relevance(model, x64, classes, make)
            # AlphaBeta(1, 0) gives ZPlus's numbers bit for bit: that case shares EpsilonPlus's file.
            same = next((c for c, r in saved.items() if np.array_equal(r, rel)), None)
            path = f"{family}/{same or case}.npy"
            if same is None:
                np.save(os.path.join(OUT, path), rel.astype(np.float32))
                saved[case] = rel
            cases[case] = {"file": path, "options": options, "relevance_sum": [float(r.sum()) for r in rel]}
        if family == "densenet":
            passed = relevance(model, x64, classes, composites(x64, bn_rule="pass")["epsilon-plus"][0])
            normed = saved["epsilon-plus"]
            print(f"densenet: Zennit's default Pass on the unfolded BatchNorms vs Norm: cosine {cos(passed[0], normed[0]):.6f}", file=sys.stderr)
        own.zero_biases(net)
        with torch.no_grad():
            free_logits = model(x64)
        bias_free = {}
        for case, (make, _) in composites(x64).items():
            rel = relevance(model, x64, classes, make)
            bias_free[case] = {"relevance_sum": [float(r.sum()) for r in rel]}
        index["families"][family] = {
            "model": f"../../ref/{family}_op17.onnx", "input": f"../../ref/{fam['input']}", "classes": classes,
            "logits": [float(logits[0, c]) for c in classes], "cases": cases,
            "bias_free": {"logits": [float(free_logits[0, c]) for c in classes], "cases": bias_free},
        }
        z = float(free_logits[0, classes[0]])
        print(f"{family}: bias-free logit {z:.4g}; relative gap of Zennit's sum: " + ", ".join(
            f"{k} {abs(v['relevance_sum'][0] - z) / max(1, abs(z)):.1e}" for k, v in bias_free.items()), file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
