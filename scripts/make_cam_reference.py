#!/usr/bin/python3
"""Reference maps of the CAM family from pytorch-grad-cam, on the reference families of
scripts/make_reference.py (same modules, same seeds, so the same weights as the committed
test/fixtures/ref/<family>_op*.onnx), run in float64.

pytorch-grad-cam is not vendored: extract it (and ttach, which it imports) from the git mirrors
at the pinned commits and point this script at them:

    mkdir -p /tmp/pgc /tmp/ttach
    git -C PYTORCH_GRAD_CAM_CLONE archive 084273b pytorch_grad_cam setup.py | tar -x -C /tmp/pgc
    git -C TTACH_CLONE archive HEAD ttach | tar -x -C /tmp/ttach
    PGC_DIR=/tmp/pgc TTACH_DIR=/tmp/ttach /usr/bin/python3 scripts/make_cam_reference.py

(clones of github.com/jacobgil/pytorch-grad-cam and github.com/qubvel/ttach; /tmp/pgc and /tmp/ttach
are the defaults). Needs Debian's python3-torch, python3-onnx, python3-opencv, python3-tqdm, python3-sklearn,
python3-matplotlib, python3-scipy. 15-90 s on two cores. See scripts/README-cam-reference.md.

What is compared: the map at the layer's resolution *before* pytorch-grad-cam's ReLU, upsampling and
normalisation, i.e. the return value of the CAM object's get_cam_image (compute_cam_per_layer then
applies np.maximum(cam, 0) and scale_cam_image). It is captured by wrapping get_cam_image on the
instance; pytorch-grad-cam's own code computes every number.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
for env, default in (("PGC_DIR", "/tmp/pgc"), ("TTACH_DIR", "/tmp/ttach")):
    sys.path.insert(0, os.environ.get(env, default))

import make_reference as ref  # noqa: E402  (the family builders, seeds and weight initialisation)

import pytorch_grad_cam  # noqa: E402
import pytorch_grad_cam.ablation_cam  # noqa: E402
import pytorch_grad_cam.score_cam  # noqa: E402
from pytorch_grad_cam import (AblationCAM, EigenCAM, EigenGradCAM, GradCAM, GradCAMElementWise,  # noqa: E402
                              GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM)
from pytorch_grad_cam.utils.find_layers import replace_layer_recursive  # noqa: E402
from pytorch_grad_cam.utils.image import scale_cam_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction  # noqa: E402

PGC_COMMIT = "084273b"
OUT = os.path.join(ROOT, "test", "fixtures", "cam-ref")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
torch.set_num_threads(2)

# Quiet pytorch-grad-cam's progress bars (Score-CAM, Ablation-CAM); nothing else changes.
pytorch_grad_cam.score_cam.tqdm.tqdm = lambda it, **_: it
pytorch_grad_cam.ablation_cam.tqdm.tqdm = lambda it, **_: it

# Look Closer id -> pytorch-grad-cam class.
METHODS = {
    "gradcam": GradCAM,
    "gradcam-plusplus": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "gradcam-elementwise": GradCAMElementWise,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
    "eigengradcam": EigenGradCAM,
    "scorecam": ScoreCAM,
    "ablationcam": AblationCAM,
}
TARGETS = {"logit": ClassifierOutputTarget, "softmax": ClassifierOutputSoftmaxTarget}
# The smoothing options (pytorch-grad-cam's eigen_smooth and aug_smooth), logit target, on a few families only.
SMOOTH_FAMILIES = ("resnet", "vgg", "mobilenetv2", "convnext")
EIGEN_SMOOTH_METHODS = ("gradcam", "gradcam-plusplus", "xgradcam")
AUG_SMOOTH_METHODS = ("gradcam",)
# The softmax target on two families (one linear head, one identity head); the logit on all.
SOFTMAX_FAMILIES = ("resnet", "squeezenet")


class Logits(nn.Module):
    """The reference nets return (logits, features); pytorch-grad-cam wants the logits alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


class Fixed(nn.Module):
    """Stands in for the target layer and returns a given batch of feature maps (ReciproCAM's reference)."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, _x):
        return self.out


def target_module(net, x):
    """The outermost module whose output is the tensor the net returns as `features`."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.append((name, o)))
             for name, m in net.named_modules() if name]
    with torch.no_grad():
        _, f = net(x)
    for h in hooks:
        h.remove()
    names = sorted((n for n, o in seen if o is f), key=lambda n: (n.count("."), n))
    assert names, "no module outputs the features"
    return names[0], dict(net.named_modules())[names[0]]


def cam_image(method_cls, model, layer, x, target):
    """pytorch-grad-cam's get_cam_image for one target: the layer-resolution map before ReLU, plus its inputs."""
    cam = method_cls(model=model, target_layers=[layer])
    got = {}
    inner = cam.get_cam_image

    def spy(input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        out = inner(input_tensor, target_layer, targets, activations, grads, eigen_smooth)
        got.update(map=np.array(out, dtype=np.float64), activations=np.array(activations), grads=None if grads is None else np.array(grads))
        return out

    cam.get_cam_image = spy
    cam(input_tensor=x, targets=[target])
    cam.activations_and_grads.release()
    assert got["map"].shape[0] == 1, got["map"].shape
    return got


def eigen_smooth_image(method_cls, model, layer, x, target):
    """get_cam_image with eigen_smooth=True (get_2d_projection of the weighted activations, LAPACK's sign), and the
    same weighted activations through get_2d_projection_with_sign_correction, checked to be ± the former."""
    cam = method_cls(model=model, target_layers=[layer])
    got = {}
    inner = cam.get_cam_image

    def spy(input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        assert eigen_smooth is True
        out = inner(input_tensor, target_layer, targets, activations, grads, eigen_smooth)
        weights = cam.get_cam_weights(input_tensor, target_layer, targets, activations, grads)
        weighted = weights[:, :, None, None] * activations
        got.update(map=np.array(out, dtype=np.float64)[0],
                   signed=get_2d_projection_with_sign_correction(weighted)[0].astype(np.float64))
        return out

    cam.get_cam_image = spy
    cam(input_tensor=x, targets=[target], eigen_smooth=True)
    cam.activations_and_grads.release()
    s, raw = got["signed"], got["map"]
    cos = float((s * raw).sum() / np.sqrt((s * s).sum() * (raw * raw).sum()))
    assert abs(abs(cos) - 1) < 1e-6, f"sign-corrected eigen_smooth projection is not ± get_2d_projection ({cos})"
    return got


def aug_smooth_image(method_cls, model, layer, x, target):
    """pytorch-grad-cam with aug_smooth=True: its output at the input size (the mean over ttach's flip x multiply
    [0.9, 1, 1.1] transforms of each de-augmented, ReLU'd, min-max scaled and upsampled map), and the same mean at
    the layer's resolution: each transform's get_cam_image map (captured in call order, which is the order of
    cam.tta_transforms) through np.maximum(., 0), pytorch-grad-cam's scale_cam_image without resizing and the
    transform's deaugment_mask."""
    cam = method_cls(model=model, target_layers=[layer])
    maps = []
    inner = cam.get_cam_image

    def spy(input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        out = inner(input_tensor, target_layer, targets, activations, grads, eigen_smooth)
        maps.append(np.array(out))
        return out

    cam.get_cam_image = spy
    output = cam(input_tensor=x, targets=[target], aug_smooth=True)
    cam.activations_and_grads.release()
    transforms = list(cam.tta_transforms)
    assert len(maps) == len(transforms) == 6, (len(maps), len(transforms))
    layer_maps = []
    for m, t in zip(maps, transforms):
        scaled = scale_cam_image(np.maximum(m, 0))
        layer_maps.append(t.deaugment_mask(torch.from_numpy(scaled[:, None])).numpy()[:, 0])
    return {"output": np.array(output, dtype=np.float64)[0], "layer": np.mean(np.float64(layer_maps), axis=0)[0]}


def smoothing_references(family, model, layer, x64, classes, fdir):
    """The eigen_smooth and aug_smooth references of one family (logit target), as index entries."""
    out = {}
    for mid in EIGEN_SMOOTH_METHODS:
        got = [eigen_smooth_image(METHODS[mid], model, layer, x64, ClassifierOutputTarget(c)) for c in classes]
        for key, field in ((f"{mid}+eigen-smooth", "map"), (f"{mid}+eigen-smooth-signed", "signed")):
            rel = f"{family}/{key}_logit.npy"
            save(os.path.join(fdir, os.path.basename(rel)), np.stack([g[field] for g in got]))
            out[key] = {"logit": rel}
    for mid in AUG_SMOOTH_METHODS:
        got = [aug_smooth_image(METHODS[mid], model, layer, x64, ClassifierOutputTarget(c)) for c in classes]
        for key, field in ((f"{mid}+aug-smooth", "layer"), (f"{mid}+aug-smooth-output", "output")):
            rel = f"{family}/{key}_logit.npy"
            save(os.path.join(fdir, os.path.basename(rel)), np.stack([g[field] for g in got]))
            out[key] = {"logit": rel}
    return out


def reciprocam(model, layer, x, target, activations):
    """ReciproCAM (Byun & Lee), not in pytorch-grad-cam: the official binary mosaic (sybyun/ReciproCAM,
    src/recipro_cam.py, is_gaussian=False): for each position (i, j) the layer's map with every other position
    zeroed is run through the rest of the net, and the class score there is the map's value at (i, j)."""
    a = torch.from_numpy(activations)
    _, c, h, w = a.shape
    mosaic = torch.zeros((h * w, c, h, w), dtype=a.dtype)
    for i in range(h):
        for j in range(w):
            mosaic[i * w + j, :, i, j] = a[0, :, i, j]
    stand_in = Fixed(mosaic)
    replace_layer_recursive(model, layer, stand_in)
    try:
        with torch.no_grad():
            out = model(x.repeat(h * w, 1, 1, 1))
    finally:
        replace_layer_recursive(model, stand_in, layer)
    return np.array([float(target(o)) for o in out], dtype=np.float64).reshape(h, w)


def save(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float64))


def main():
    with open(os.path.join(REF_DIR, "index.json")) as f:
        ref_index = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_cam_reference.py",
        "pytorch_grad_cam": f"jacobgil/pytorch-grad-cam@{PGC_COMMIT}",
        "torch": torch.__version__,
        "dtype": "float64 (model.double() on the weights of scripts/make_reference.py)",
        "conventions": {
            "map": "get_cam_image's return value for one target: shape (classes, h, w) at the layer's resolution, "
                   "before pytorch-grad-cam's ReLU, upsampling and min-max scaling",
            "eigen-sign": "eigencam/eigengradcam hold get_2d_projection (SVD sign as LAPACK returns it); "
                          "eigencam-signed/eigengradcam-signed the same projection through "
                          "get_2d_projection_with_sign_correction (flipped when |min| > |max|); "
                          "eigen_svd_sign_vs_corrected per family: +1 where LAPACK's sign already agreed, -1 where it was flipped",
            "ablationcam": "only where the layer's minimum is 0 (pytorch-grad-cam zeroes the channel there, as the paper; "
                           "elsewhere it writes min - 1e7 cumulatively per batch row)",
            "reciprocam": "not in pytorch-grad-cam: scripts/make_cam_reference.py's reciprocam(), the official binary mosaic",
            "targets": "logit: ClassifierOutputTarget; softmax: ClassifierOutputSoftmaxTarget",
            "smooth": "per family in SMOOTH_FAMILIES, logit target: '<method>+eigen-smooth' is get_cam_image with "
                      "eigen_smooth=True (get_2d_projection of the weighted activations, LAPACK's sign), "
                      "'<method>+eigen-smooth-signed' the same weighted activations through "
                      "get_2d_projection_with_sign_correction; '<method>+aug-smooth-output' is pytorch-grad-cam's "
                      "aug_smooth=True output (classes, H, W) at the input size, '<method>+aug-smooth' the same mean "
                      "at the layer's resolution: per transform, scale_cam_image(max(get_cam_image, 0)) de-augmented",
        },
        "families": {},
    }
    total = 0
    for fi, (family, cls, opsets, extra) in enumerate(ref.FAMILIES):
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        x = torch.randn((1, 3, ref.H, ref.W), generator=torch.Generator().manual_seed(2000 + fi))
        fam = ref_index["families"][family]
        x_saved = np.load(os.path.join(REF_DIR, fam["input"]))
        assert np.array_equal(x.numpy(), x_saved), f"{family}: input differs from {fam['input']}"
        with torch.no_grad():
            logits32, _ = net(x)
        lg_saved = np.load(os.path.join(REF_DIR, fam["logits"]))
        assert np.abs(logits32.numpy() - lg_saved).max() < 1e-5, f"{family}: weights differ from make_reference.py's"

        net = net.double().eval()
        x64 = x.double()
        name, layer = target_module(net, x64)
        model = Logits(net).eval()
        classes = fam["classes"]
        with torch.no_grad():
            _, feats = net(x64)
        layer_min = float(feats.min())
        fdir = os.path.join(OUT, family)
        os.makedirs(fdir, exist_ok=True)
        maps = {}
        skipped = {}
        lapack_sign = {}
        for tname, tcls in TARGETS.items():
            if tname == "softmax" and family not in SOFTMAX_FAMILIES:
                continue
            for mid, mcls in list(METHODS.items()) + [("reciprocam", None)]:
                if mid == "ablationcam" and layer_min != 0:
                    skipped[mid] = f"the layer's minimum is {layer_min:.3g}, not 0: pytorch-grad-cam ablates with min - 1e7 (cumulative per batch row), not the paper's zero"
                    continue
                per_class, signed, svd_sign = [], [], []
                for c in classes:
                    if mid == "reciprocam":
                        per_class.append(reciprocam(model, layer, x64, tcls(c), feats.numpy()))
                        continue
                    got = cam_image(mcls, model, layer, x64, tcls(c))
                    per_class.append(got["map"][0])
                    if mid in ("eigencam", "eigengradcam"):
                        x_pca = got["activations"] if mid == "eigencam" else got["grads"] * got["activations"]
                        s = get_2d_projection_with_sign_correction(x_pca)[0].astype(np.float64)
                        raw = got["map"][0]
                        cos = float((s * raw).sum() / np.sqrt((s * s).sum() * (raw * raw).sum()))
                        assert abs(abs(cos) - 1) < 1e-6, f"{family} {mid}: sign-corrected projection is not ± get_2d_projection ({cos})"
                        signed.append(s)
                        svd_sign.append(1 if cos > 0 else -1)
                for key, arr in ((mid, per_class), (f"{mid}-signed", signed)):
                    if not arr:
                        continue
                    rel = f"{family}/{key}_{tname}.npy"
                    save(os.path.join(OUT, rel), np.stack(arr))
                    maps.setdefault(key, {})[tname] = rel
                if svd_sign:
                    lapack_sign.setdefault(mid, {})[tname] = svd_sign
        smooth = smoothing_references(family, model, layer, x64, classes, fdir) if family in SMOOTH_FAMILIES else {}
        index["families"][family] = {
            "model": f"../ref/{family}_op{max(opsets)}.onnx",
            "input": f"../ref/{fam['input']}",
            "layer": "features",
            "torch_module": name,
            "layer_shape": list(feats.shape),
            "layer_min": layer_min,
            "classes": classes,
            "maps": maps,
            "smooth": smooth,
            "skipped": skipped,
            "eigen_svd_sign_vs_corrected": lapack_sign,
        }
        n = sum(len(v) for v in maps.values())
        total += n
        print(f"{family}: module '{name}' {list(feats.shape)} min {layer_min:.3g} classes {classes}: {n} maps"
              + (f"; skipped {', '.join(skipped)}" if skipped else ""), file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"{total} reference maps in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
