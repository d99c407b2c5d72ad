#!/usr/bin/python3
"""Reference CAM maps at transformer token layers, from pytorch-grad-cam in float64, on the small random-weight
transformers of scripts/make_transformer_models.py (same modules, same seeds, so the same weights as the
committed test/fixtures/transformers/<family>_op*.onnx).

pytorch-grad-cam is not vendored: extract it (and ttach) as scripts/README-cam-reference.md says, then

    PGC_DIR=/tmp/pgc TTACH_DIR=/tmp/ttach /usr/bin/python3 scripts/make_token_cam_reference.py

(from the repository root; /tmp/pgc and /tmp/ttach are the defaults). Needs Debian's python3-torch (1.13),
python3-torchvision (0.14), python3-onnx, python3-opencv, python3-tqdm, python3-sklearn, python3-matplotlib,
python3-scipy. About 30 s on two cores.

Layers are read as pytorch-grad-cam's ViT and Swin tutorials do, with a reshape_transform: a [B, N, C] token
tensor drops its prefix tokens (class, distillation), reshapes the h*w patch tokens to [B, h, w, C] and moves
channels first; a [B, H, W, C] Swin map moves channels first. What is saved is get_cam_image's return value
(the map at the layer's resolution before pytorch-grad-cam's ReLU, upsampling and scaling), shape
(classes, h, w), for ClassifierOutputTarget (the logit).

Layers per family: "block0" (the first block's output, a named tensor of the ONNX export) and, for the
class-token families, "default" (the last block's norm1 output: the LayerNorm feeding the last attention, what
pytorch-grad-cam's docs recommend and what Look Closer picks by default; index.json gives the ONNX node scope
the default layer must come from). Swin: "block0" and "block1" (its stage outputs, channels last).
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
for env, default in (("PGC_DIR", "/tmp/pgc"), ("TTACH_DIR", "/tmp/ttach")):
    sys.path.insert(0, os.environ.get(env, default))

import make_transformer_models as tm  # noqa: E402  (the families, seeds and weight initialisation)

import pytorch_grad_cam  # noqa: E402
import pytorch_grad_cam.score_cam  # noqa: E402
from pytorch_grad_cam import GradCAM, ScoreCAM  # noqa: E402
from pytorch_grad_cam.utils.find_layers import replace_layer_recursive  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

PGC_COMMIT = "084273b"
OUT = os.path.join(ROOT, "test", "fixtures", "token-cam-ref")
FIXTURES = os.environ.get("TRANSFORMER_FIXTURES", os.path.join(ROOT, "test", "fixtures", "transformers"))
torch.set_num_threads(2)
pytorch_grad_cam.score_cam.tqdm.tqdm = lambda it, **_: it

METHODS = {"gradcam": GradCAM, "scorecam": ScoreCAM}


class Logits(nn.Module):
    """The fixture models return (logits, block outputs...); pytorch-grad-cam wants the logits alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def tokens_to_map(prefix, h, w):
    """pytorch-grad-cam's ViT reshape_transform: drop the prefix tokens, [B, h*w, C] -> [B, C, h, w]."""
    def reshape(t):
        return t[:, prefix:, :].reshape(t.size(0), h, w, t.size(2)).permute(0, 3, 1, 2)
    return reshape


def channels_last_to_map(t):
    """pytorch-grad-cam's Swin reshape_transform for a [B, H, W, C] map."""
    return t.permute(0, 3, 1, 2)


class Fixed(nn.Module):
    """Stands in for the target layer and returns a given batch of activations (ReciproCAM's reference)."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, *_args, **_kwargs):
        return self.out


def reciprocam(model, module, x, target, prefix):
    """ReciproCAM's binary mosaic (as scripts/make_cam_reference.py) in the layer's own layout: for each patch
    position, the layer's activations with every other patch zeroed (a token tensor's prefix tokens kept; a
    channels-last map's position (i, j) kept across channels), run through the rest of the net; the class
    score there is the map's value at that position. prefix None: a [B, H, W, C] map."""
    got = {}
    hook = module.register_forward_hook(lambda m, i, o: got.update(a=o.detach()))
    with torch.no_grad():
        model(x)
    hook.remove()
    a = got["a"]
    if prefix is None:
        _, h, w, c = a.shape
        mosaic = torch.zeros((h * w, h, w, c), dtype=a.dtype)
        for p in range(h * w):
            mosaic[p, p // w, p % w, :] = a[0, p // w, p % w, :]
    else:
        _, n, c = a.shape
        mosaic = torch.zeros((n - prefix, n, c), dtype=a.dtype)
        for p in range(n - prefix):
            mosaic[p, :prefix] = a[0, :prefix]
            mosaic[p, prefix + p] = a[0, prefix + p]
    stand_in = Fixed(mosaic)
    replace_layer_recursive(model, module, stand_in)
    try:
        with torch.no_grad():
            out = model(x.repeat(mosaic.shape[0], 1, 1, 1))
    finally:
        replace_layer_recursive(model, stand_in, module)
    return np.array([float(target(o)) for o in out], dtype=np.float64)


def ablationcam(model, module, x, target, to_map):
    """Ablation-CAM (Desai & Ramaswamy, WACV 2020, section 3) with the ablation of pytorch-grad-cam's
    AblationLayerVit where the layer's minimum is 0: channel k zeroed in every token (prefix tokens included) or
    at every position, w_k = (y - y_k) / y, map = sum_k w_k A_k on the reshaped layer (before ReLU). Written out
    here because pytorch-grad-cam ablates with min - 1e7 on layers whose minimum is not 0, as these are."""
    got = {}
    hook = module.register_forward_hook(lambda m, i, o: got.update(a=o.detach()))
    with torch.no_grad():
        y = float(target(model(x)[0]))
    hook.remove()
    a = got["a"]
    c = a.shape[-1]
    batch = a.repeat(c, *([1] * (a.dim() - 1)))
    for k in range(c):
        batch[k, ..., k] = 0
    stand_in = Fixed(batch)
    replace_layer_recursive(model, module, stand_in)
    try:
        with torch.no_grad():
            out = model(x.repeat(c, 1, 1, 1))
    finally:
        replace_layer_recursive(model, stand_in, module)
    w = torch.tensor([(y - float(target(o))) / y for o in out], dtype=a.dtype)
    return np.array(torch.einsum("k,khw->hw", w, to_map(a)[0]), dtype=np.float64)


def layers_of(family, net):
    """(key, module, reshape_transform, ONNX tensor or default-layer scope) per reference layer."""
    if family == "vit":
        t = tokens_to_map(1, 4, 4)
        return [("block0", net.m.encoder.layers[0], t, {"tensor": "block0"}),
                ("default", net.m.encoder.layers[-1].ln_1, t, {"default_scope": "/encoder_layer_1/ln_1/"})]
    if family == "deit":
        t = tokens_to_map(2, 4, 4)
        return [("block0", net.blocks[0], t, {"tensor": "block0"}),
                ("default", net.blocks[-1].norm1, t, {"default_scope": "/blocks.1/norm1/"})]
    if family == "swin":
        return [("block0", net.m.features[1], channels_last_to_map, {"tensor": "block0"}),
                ("block1", net.m.features[3], channels_last_to_map, {"tensor": "block1"})]
    raise KeyError(family)


class ReshapeViT(nn.Module):
    """Tokens from patches cut by Reshape/Transpose (no patch convolution, so no 4-D map upstream): a class token,
    then a (32/ph)x(32/pw) grid of patch tokens, a LayerNorm (the explained layer, exported as 'tokens'), a token
    MLP and a mean-pooled head. With 8x8 patches the 17 tokens factor into one 4x4 grid of the 32x32 input; with
    8x4 patches the 33 tokens make a 4x8 grid that no one square stride gives, so the grid must be given (--grid)."""

    def __init__(self, ph, pw, dim=16):
        super().__init__()
        self.ph, self.pw, self.gh, self.gw = ph, pw, tm.H // ph, tm.W // pw
        self.embed = nn.Linear(3 * ph * pw, dim)
        self.cls = nn.Parameter(0.5 * torch.randn(1, 1, dim))
        self.pos = nn.Parameter(0.5 * torch.randn(1, 1 + self.gh * self.gw, dim))
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, tm.NUM_CLASSES)

    def forward(self, x):
        b = x.shape[0]
        p = x.reshape(b, 3, self.gh, self.ph, self.gw, self.pw).permute(0, 2, 4, 1, 3, 5).reshape(b, self.gh * self.gw, -1)
        t = torch.cat([self.cls.expand(b, -1, -1), self.embed(p)], 1) + self.pos
        t = self.norm(t)
        u = t + F.gelu(self.fc(t))
        return self.head(u.mean(1)), t


RESHAPE_MODELS = {"patch8x8": (8, 8, 5000), "patch8x4": (8, 4, 5001)}


def reshape_models(index):
    """Exports the ReshapeViT models and their Grad-CAM references at the 'tokens' layer."""
    for name, (ph, pw, seed) in RESHAPE_MODELS.items():
        torch.manual_seed(seed)
        net = ReshapeViT(ph, pw).eval()
        x = torch.randn((1, 3, tm.H, tm.W), generator=torch.Generator().manual_seed(seed + 100))
        path = os.path.join(OUT, f"{name}.onnx")
        torch.onnx.export(net, (x,), path + ".tmp", opset_version=17, input_names=["input"], output_names=["logits", "tokens"])
        m = onnx.load(path + ".tmp")
        os.remove(path + ".tmp")
        internal = [o for o in m.graph.output if o.name != "logits"]
        keep = [o for o in m.graph.output if o.name == "logits"]
        del m.graph.output[:]
        m.graph.output.extend(keep)
        m.graph.value_info.extend(internal)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
        fdir = os.path.join(OUT, name)
        os.makedirs(fdir, exist_ok=True)
        np.save(os.path.join(fdir, "input.npy"), x.numpy().astype(np.float32))
        net = net.double()
        x64 = x.double()
        with torch.no_grad():
            logits = net(x64)[0][0]
        classes = [int(c) for c in torch.argsort(logits, descending=True)[:2]]
        module = net.norm
        arr = np.stack([cam_image(GradCAM, Logits(net), module, tokens_to_map(1, net.gh, net.gw), x64, ClassifierOutputTarget(c)) for c in classes])
        rel = f"{name}/gradcam_tokens.npy"
        np.save(os.path.join(OUT, rel), np.ascontiguousarray(arr, dtype=np.float64))
        index["reshape_models"][name] = {
            "model": f"{name}.onnx", "input": f"{name}/input.npy", "classes": classes, "layer": "tokens",
            "grid": [net.gh, net.gw], "prefix_tokens": 1, "maps": {"gradcam": rel},
        }
        print(f"{name}: grid {net.gh}x{net.gw}, classes {classes}", file=sys.stderr)


def cam_image(method_cls, model, layer, reshape, x, target):
    """pytorch-grad-cam's get_cam_image for one target: the layer-resolution map before ReLU."""
    cam = method_cls(model=model, target_layers=[layer], reshape_transform=reshape)
    got = {}
    inner = cam.get_cam_image

    def spy(input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        out = inner(input_tensor, target_layer, targets, activations, grads, eigen_smooth)
        got["map"] = np.array(out, dtype=np.float64)
        return out

    cam.get_cam_image = spy
    cam(input_tensor=x, targets=[target])
    cam.activations_and_grads.release()
    assert got["map"].shape[0] == 1, got["map"].shape
    return got["map"][0]


def main():
    with open(os.path.join(FIXTURES, "index.json")) as f:
        fixtures = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_token_cam_reference.py",
        "pytorch_grad_cam": f"jacobgil/pytorch-grad-cam@{PGC_COMMIT}",
        "torch": torch.__version__,
        "dtype": "float64 (model.double() on the weights of scripts/make_transformer_models.py)",
        "conventions": {
            "map": "get_cam_image's return value for ClassifierOutputTarget(c), shape (classes, h, w), before ReLU",
            "reshape_transform": "tokens: drop the prefix tokens, reshape the patch tokens to h x w, channels first; "
                                 "channels-last maps: channels first",
            "reciprocam": "not in pytorch-grad-cam: this script's reciprocam(), the binary mosaic in the layer's own "
                          "layout (prefix tokens kept), at block0",
            "ablationcam": "this script's ablationcam(): channel k zeroed in every token, prefix included "
                           "(pytorch-grad-cam's AblationLayerVit where the minimum is 0), at block0",
            "layers": "tensor: an ONNX tensor of the export; default_scope: the ONNX node scope Look Closer's default "
                      "layer must come from (the last block's norm1)",
        },
        "families": {},
        "reshape_models": {},
    }
    reshape_models(index)
    names = [fam for fam, _, _ in tm.FAMILIES]
    for family in ("vit", "deit", "swin"):
        fi = names.index(family)
        ctor = tm.FAMILIES[fi][1]
        torch.manual_seed(3000 + fi)
        net = ctor()
        tm.init_model(net, 3000 + fi)
        x = torch.randn((1, 3, tm.H, tm.W), generator=torch.Generator().manual_seed(4000 + fi))
        entry = next(m for m in fixtures["models"] if m["family"] == family)
        x_saved = np.load(os.path.join(FIXTURES, entry["input"]))
        assert np.array_equal(x.numpy().reshape(x_saved.shape), x_saved), f"{family}: input differs from {entry['input']}"
        with torch.no_grad():
            logits32 = net(x)[0]
        lg_saved = np.load(os.path.join(FIXTURES, entry["logits"]))
        assert np.abs(logits32.numpy().reshape(lg_saved.shape) - lg_saved).max() < 1e-5, f"{family}: weights differ from the fixtures'"
        net = net.double().eval()
        model = Logits(net).eval()
        x64 = x.double()
        classes = entry["classes"]
        fdir = os.path.join(OUT, family)
        os.makedirs(fdir, exist_ok=True)
        layers = {}
        for key, module, reshape, where in layers_of(family, net):
            maps = {}
            for mid, mcls in METHODS.items():
                arr = np.stack([cam_image(mcls, model, module, reshape, x64, ClassifierOutputTarget(c)) for c in classes])
                rel = f"{family}/{mid}_{key}.npy"
                np.save(os.path.join(OUT, rel), np.ascontiguousarray(arr, dtype=np.float64))
                maps[mid] = rel
            if key == "block0":
                prefix = None if family == "swin" else (1 if family == "vit" else 2)
                arr2 = np.stack([reciprocam(model, module, x64, ClassifierOutputTarget(c), prefix).reshape(arr.shape[1:]) for c in classes])
                rel = f"{family}/reciprocam_{key}.npy"
                np.save(os.path.join(OUT, rel), np.ascontiguousarray(arr2, dtype=np.float64))
                maps["reciprocam"] = rel
                arr3 = np.stack([ablationcam(model, module, x64, ClassifierOutputTarget(c), reshape) for c in classes])
                rel = f"{family}/ablationcam_{key}.npy"
                np.save(os.path.join(OUT, rel), np.ascontiguousarray(arr3, dtype=np.float64))
                maps["ablationcam"] = rel
            layers[key] = {**where, "map_shape": list(arr.shape[1:]), "maps": maps}
            print(f"{family} {key}: {list(arr.shape)}", file=sys.stderr)
        index["families"][family] = {
            "models": sorted(m["file"] for m in fixtures["models"] if m["family"] == family),
            "input": entry["input"],
            "classes": classes,
            "layers": layers,
        }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
