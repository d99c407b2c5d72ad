#!/usr/bin/python3
"""Reference FullGrad maps from pytorch-grad-cam (jacobgil/pytorch-grad-cam@084273b, its FullGrad class), on the
reference families of scripts/make_reference.py (same modules, same seeds, so the same weights as the committed
test/fixtures/ref/<family>_op*.onnx), run in float64.

pytorch-grad-cam is not vendored: extract it (and ttach, which it imports) as for scripts/make_cam_reference.py:

    mkdir -p /tmp/pgc /tmp/ttach
    git -C PYTORCH_GRAD_CAM_CLONE archive 084273b pytorch_grad_cam setup.py | tar -x -C /tmp/pgc
    git -C TTACH_CLONE archive HEAD ttach | tar -x -C /tmp/ttach
    PGC_DIR=/tmp/pgc TTACH_DIR=/tmp/ttach /usr/bin/python3 scripts/make_fullgrad_reference.py

Needs Debian's python3-torch, python3-onnx, python3-opencv, python3-tqdm, python3-sklearn, python3-matplotlib,
python3-scipy. About 20 s on two cores.

What is compared: the return value of FullGrad.compute_cam_per_layer for one target (shape (1, 1, H, W)), i.e. the
sum of the normalised, upsampled |input x gradient| channels and |bias x gradient| channels of every Conv2d and
BatchNorm2d with a bias, before pytorch-grad-cam's final min-max scaling (aggregate_multi_layers). It is captured by
wrapping that method on the instance; pytorch-grad-cam's own code computes every number. Written to
test/fixtures/fullgrad-ref/<family>/fullgrad_<target>.npy as float32 (classes, H, W), with index.json.
"""

import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
for env, default in (("PGC_DIR", "/tmp/pgc"), ("TTACH_DIR", "/tmp/ttach")):
    sys.path.insert(0, os.environ.get(env, default))

import make_reference as ref  # noqa: E402  (the family builders, seeds and weight initialisation)

from pytorch_grad_cam import FullGrad  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget  # noqa: E402

PGC_COMMIT = "084273b"
OUT = os.path.join(ROOT, "test", "fixtures", "fullgrad-ref")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
TARGETS = {"logit": ClassifierOutputTarget, "softmax": ClassifierOutputSoftmaxTarget}
SOFTMAX_FAMILIES = ("resnet", "squeezenet")
torch.set_num_threads(2)


class Logits(torch.nn.Module):
    """The reference nets return (logits, features); pytorch-grad-cam wants the logits alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def fullgrad_map(model, x, target):
    """compute_cam_per_layer's value for one target: the FullGrad sum before the final scaling, (H, W)."""
    cam = FullGrad(model=model, target_layers=[])
    got = {}
    inner = cam.compute_cam_per_layer

    def spy(input_tensor, targets, eigen_smooth):
        out = inner(input_tensor, targets, eigen_smooth)
        got["map"] = np.array(out, dtype=np.float64)
        return out

    cam.compute_cam_per_layer = spy
    cam(input_tensor=x, targets=[target])
    cam.activations_and_grads.release()
    assert got["map"].shape[:2] == (1, 1), got["map"].shape
    return got["map"][0, 0], len(cam.bias_data)


def main():
    with open(os.path.join(REF_DIR, "index.json")) as f:
        ref_index = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_fullgrad_reference.py",
        "pytorch_grad_cam": f"jacobgil/pytorch-grad-cam@{PGC_COMMIT}",
        "torch": torch.__version__,
        "dtype": "float64 (model.double() on the weights of scripts/make_reference.py); maps saved as float32",
        "conventions": {
            "map": "FullGrad.compute_cam_per_layer's return value for one target, (classes, H, W) at the input's "
                   "resolution, before pytorch-grad-cam's final min-max scaling",
            "targets": "logit: ClassifierOutputTarget; softmax: ClassifierOutputSoftmaxTarget",
        },
        "families": {},
    }
    for fi, (family, cls, opsets, extra) in enumerate(ref.FAMILIES):
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        x = torch.randn((1, 3, ref.H, ref.W), generator=torch.Generator().manual_seed(2000 + fi))
        fam = ref_index["families"][family]
        assert np.array_equal(x.numpy(), np.load(os.path.join(REF_DIR, fam["input"]))), f"{family}: input differs"
        with torch.no_grad():
            logits32, _ = net(x)
        assert np.abs(logits32.numpy() - np.load(os.path.join(REF_DIR, fam["logits"]))).max() < 1e-5, f"{family}: weights differ"
        model = Logits(net.double().eval()).eval()
        x64 = x.double()
        classes = fam["classes"]
        maps = {}
        skipped = None
        layers = None
        for tname, tcls in TARGETS.items():
            if tname == "softmax" and family not in SOFTMAX_FAMILIES:
                continue
            try:
                per_class = []
                for c in classes:
                    m, layers = fullgrad_map(model, x64, tcls(c))
                    per_class.append(m)
            except AssertionError as e:
                skipped = f"pytorch-grad-cam's FullGrad fails: {e!r} (a module run twice records two gradients for one bias)"
                break
            except ValueError as e:
                skipped = (f"pytorch-grad-cam's FullGrad fails: {e} (it pairs the i-th bias in module order with the i-th "
                           "gradient hook to fire, and backward reached the layers in another order)")
                break
            rel = f"{family}/fullgrad_{tname}.npy"
            os.makedirs(os.path.join(OUT, family), exist_ok=True)
            np.save(os.path.join(OUT, rel), np.stack(per_class).astype(np.float32))
            maps[tname] = rel
        entry = {"model": f"../ref/{family}_op{max(opsets)}.onnx", "input": f"../ref/{fam['input']}", "classes": classes,
                 "bias_layers": layers, "maps": maps}
        if skipped:
            entry = {"skipped": skipped}
        index["families"][family] = entry
        print(f"{family}: {layers} bias layers, {len(maps)} targets" + (f"; skipped: {skipped}" if skipped else ""), file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
