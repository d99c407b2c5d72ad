#!/usr/bin/python3
"""Reference LRP relevances for test/unit/lrp-reference.test.ts: this script's own PyTorch code of the LRP rules,
run in float64 on the reference families of scripts/make_reference.py (same modules, same seeds, so the same
weights as the committed test/fixtures/ref/<family>_op17.onnx).

    /usr/bin/python3 scripts/make_lrp_reference.py     # from the repository root, ~20 s on two cores

Needs Debian's python3-torch (1.13) and python3-onnx. Writes test/fixtures/lrp-ref/<family>/<composite>.npy
(float32, (classes, 3, H, W)) and index.json.

The rules (Bach et al. 2015; Montavon et al., "Layer-Wise Relevance Propagation: An Overview", 2019, §10.2.2, whose
PyTorch recipe this follows: z = rho(layer)(a); s = R / stab(z); c = grad(z . s); R_a = a * c):
  - eps-rule on a layer z = W a + b: s = R_z / stab(z), R_a = a * (W^T s), stab(v) = v + eps (sign v + [v = 0]);
  - z+-rule (alpha 1, beta 0, as Zennit's ZPlus, negative inputs allowed): z+ = W+ a+ + b+ + W- a-,
    s = R_z / stab(z+) with eps 1e-6, R_a = a+ * (W+^T s) + a- * (W-^T s);
  - ReLU and ReLU6 pass relevance unchanged (R_x = R_y); every other module keeps its gradient, which in the
    gradient x input form is the proportional rule (pooling, mean, Add, Concat, BatchNorm as a linear layer) and
    winner-take-all for max pooling.
Each rule is a forward hook whose output has the module's forward value and the rule's gradient, so autograd runs
the relevance pass, and the input relevance is x * d(logit_c)/dx with R = logit_c at the output. BatchNorms that
follow a convolution are folded into it first, as torch.onnx.export folds them (the script checks that as many
BatchNorms remain as the ONNX graph has, and that the folded net gives the exported logits).

Composites: epsilon-plus (z+ on Conv2d, eps 1e-6 on Linear; Zennit's EpsilonPlus), epsilon (eps = 0.1 on both),
zplus (z+ on both).
"""

import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_reference as ref  # noqa: E402  (the family builders, seeds and weight initialisation)

OUT = os.path.join(ROOT, "test", "fixtures", "lrp-ref")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
# The families built of Conv, Linear, ReLU/ReLU6, pooling, BatchNorm, Add and Concat (the others gate with
# Sigmoid/HardSwish products or use LayerNorm/GELU, which LRP has no rule for here).
FAMILIES = ("resnet", "vgg", "mobilenetv2", "densenet", "inception", "shufflenet", "squeezenet")
COMPOSITES = {
    "epsilon-plus": {"conv": "zplus", "dense": "epsilon", "epsilon": 1e-6},
    "epsilon": {"conv": "epsilon", "dense": "epsilon", "epsilon": 0.1},
    "zplus": {"conv": "zplus", "dense": "zplus", "epsilon": 1e-6},
}
ZPLUS_STABILIZER = 1e-6
torch.set_num_threads(2)


def stab(v, eps):
    return v + ((v == 0).to(v) + v.sign()) * eps


def with_gradient(value, surrogate):
    """A tensor with `value`'s forward value and `surrogate`'s gradient."""
    return surrogate + (value - surrogate).detach()


def apply_layer(m, x, weight, bias):
    if isinstance(m, nn.Conv2d):
        return F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)
    return F.linear(x, weight, bias)


def rule_hook(rule, eps, tally):
    """The rule as a forward hook. `tally` collects, per backward pass, where a rule does not pass relevance on
    (without biases, the only places): 'absorbed', Σ_j R_j (1 - d_j / stab(d_j)) over every unit of the layer, d its
    denominator (z for eps, z+ for z+), R_j = z_j c_j; 'dropped', the part of it at units without a positive
    contribution (z+_j = 0), which the z+-rule cannot pass on at all."""
    def hook(m, inputs, out):
        x = inputs[0]
        if rule == "epsilon":
            den, stabilized = out, stab(out, eps)
            ratio = (out / stabilized).detach()
            y = with_gradient(out, out * ratio)
        else:
            w = m.weight
            b = None if m.bias is None else m.bias.clamp(min=0)
            den = apply_layer(m, x.clamp(min=0), w.clamp(min=0), b) + apply_layer(m, x.clamp(max=0), w.clamp(max=0), None)
            stabilized = stab(den, ZPLUS_STABILIZER)
            ratio = (out / stabilized).detach()
            y = with_gradient(out, den * ratio)
        if y.requires_grad:
            z, kept = out.detach(), (den / stabilized).detach()
            empty = (den == 0).detach() if rule != "epsilon" else torch.zeros_like(z, dtype=torch.bool)

            def record(c):
                tally["absorbed"] += float((z * c * (1 - kept)).sum())
                tally["dropped"] += float((z * c)[empty].sum())
            y.register_hook(record)
        return y
    return hook


def pass_hook(m, inputs, out):
    """ReLU / ReLU6: R_x = R_y, i.e. the gradient y / x."""
    x = inputs[0]
    ratio = torch.where(x == 0, torch.zeros_like(x), out / torch.where(x == 0, torch.ones_like(x), x)).detach()
    return with_gradient(out, x * ratio)


def fold_batchnorms(net, x):
    """Folds every BatchNorm2d whose input is a Conv2d's output into that convolution (as the ONNX export does)."""
    # The tensors themselves are kept (not their ids, which Python reuses once a tensor is freed).
    produced, feeds = [], []
    hooks = []
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda m, i, o, name=name: produced.append((name, o))))
        elif isinstance(m, nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(lambda m, i, o, name=name: feeds.append((name, i[0]))))
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    modules = dict(net.named_modules())
    folded = 0
    for bn_name, src in feeds:
        conv_name = next((n for n, o in produced if o is src), None)
        if conv_name is None:
            continue
        conv, bn = modules[conv_name], modules[bn_name]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            conv.weight.mul_(scale[:, None, None, None])
            b0 = conv.bias if conv.bias is not None else torch.zeros_like(bn.bias)
            conv.bias = nn.Parameter((b0 - bn.running_mean) * scale + bn.bias)
        parent_name, _, attr = bn_name.rpartition(".")
        setattr(modules[parent_name] if parent_name else net, attr, nn.Identity())
        folded += 1
    return folded


def lrp(net, x, classes, composite):
    """Input relevances (classes, 3, H, W) and, per class, what the rules absorbed and dropped (rule_hook)."""
    spec = COMPOSITES[composite]
    hooks = []
    tally = {}
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(rule_hook(spec["conv"], spec["epsilon"], tally)))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(rule_hook(spec["dense"], spec["epsilon"], tally)))
        elif isinstance(m, ref.Rect):
            hooks.append(m.register_forward_hook(pass_hook))
    out, lost = [], []
    try:
        for c in classes:
            xg = x.clone().requires_grad_(True)
            logits, _ = net(xg)
            tally.update(absorbed=0.0, dropped=0.0)
            (g,) = torch.autograd.grad(logits[0, c], xg)
            out.append((xg * g).detach()[0].numpy())
            lost.append(dict(tally))
    finally:
        for h in hooks:
            h.remove()
    return np.stack(out), lost


def zero_biases(net):
    """Every Conv2d/Linear bias and every BatchNorm shift (beta and the running mean) set to zero."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.bias.zero_()
                m.running_mean.zero_()


def main():
    with open(os.path.join(REF_DIR, "index.json")) as f:
        ref_index = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_lrp_reference.py",
        "torch": torch.__version__,
        "dtype": "float64 (model.double() on the weights of scripts/make_reference.py); relevances saved as float32",
        "composites": COMPOSITES,
        "conventions": {
            "relevance": "input relevance R = x * c per class, shape (classes, 3, H, W), output relevance = the logit",
            "relevance_sum": "sum of R per class in float64; logit: the class's logit (they differ by what the biases keep)",
            "bias_free": "the same net with every Conv/Linear bias and BatchNorm shift zeroed (as the test zeroes the ONNX "
                         "initializers): logits, relevance sums, absorbed (sum over rule layers and units of "
                         "R_j (1 - d_j / stab(d_j)), d the rule's denominator: what the stabilisers keep), and "
                         "zplus_dropped, the part of it at units where z+_j = 0 (no positive contribution), which the "
                         "z+-rule cannot pass on; conservation: relevance_sum + absorbed = logit",
        },
        "families": {},
    }
    for fi, (family, cls, opsets, extra) in enumerate(ref.FAMILIES):
        if family not in FAMILIES:
            continue
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        x = torch.randn((1, 3, ref.H, ref.W), generator=torch.Generator().manual_seed(2000 + fi))
        fam = ref_index["families"][family]
        assert np.array_equal(x.numpy(), np.load(os.path.join(REF_DIR, fam["input"]))), f"{family}: input differs"
        net = net.double().eval()
        x64 = x.double()
        folded = fold_batchnorms(net, x64)
        model_file = f"{family}_op17.onnx"
        graph = onnx.load(os.path.join(REF_DIR, model_file)).graph
        left = sum(1 for m in net.modules() if isinstance(m, nn.BatchNorm2d))
        in_onnx = sum(1 for n in graph.node if n.op_type == "BatchNormalization")
        assert left == in_onnx, f"{family}: {left} BatchNorms left after folding, the ONNX graph has {in_onnx}"
        with torch.no_grad():
            logits, _ = net(x64)
        saved = np.load(os.path.join(REF_DIR, fam["logits"]))
        assert np.abs(logits.numpy() - saved).max() < 1e-4, f"{family}: folded net's logits differ from the export's"
        classes = fam["classes"]
        cases = {}
        for composite in COMPOSITES:
            rel, _ = lrp(net, x64, classes, composite)
            path = f"{family}/{composite}.npy"
            os.makedirs(os.path.join(OUT, family), exist_ok=True)
            np.save(os.path.join(OUT, path), rel.astype(np.float32))
            cases[composite] = {"file": path, "relevance_sum": [float(r.sum()) for r in rel]}
        # The same net without biases: conservation, up to what the z+-rule drops at units without a positive contribution.
        zero_biases(net)
        with torch.no_grad():
            free_logits, _ = net(x64)
        bias_free = {}
        for composite in COMPOSITES:
            rel, lost = lrp(net, x64, classes, composite)
            bias_free[composite] = {"relevance_sum": [float(r.sum()) for r in rel], "absorbed": [t["absorbed"] for t in lost],
                                    "zplus_dropped": [t["dropped"] for t in lost]}
        index["families"][family] = {
            "model": f"../ref/{model_file}", "input": f"../ref/{fam['input']}", "classes": classes,
            "logits": [float(logits[0, c]) for c in classes], "batchnorms_folded": folded, "cases": cases,
            "bias_free": {"logits": [float(free_logits[0, c]) for c in classes], "cases": bias_free},
        }
        print(f"{family}: folded {folded} BatchNorms ({left} left); " + ", ".join(
            f"{k} sum {v['relevance_sum'][0]:.4g}" for k, v in cases.items()) + f"; logit {float(logits[0, classes[0]]):.4g}; "
            "bias-free: " + ", ".join(f"{k} gap {v['relevance_sum'][0] + v['absorbed'][0] - float(free_logits[0, classes[0]]):.2e}"
                                      f" (dropped {v['zplus_dropped'][0]:.3g})" for k, v in bias_free.items()), file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
