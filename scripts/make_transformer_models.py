#!/usr/bin/python3
"""Build small random-weight transformer classifiers with PyTorch, export them to ONNX and save reference
gradients computed by autograd (float32, and float64 on a double copy of the same weights).

Run from the repository root:

    /usr/bin/python3 scripts/make_transformer_models.py

Needs Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx (1.12) and python3-numpy; no
network, no pretrained weights. Everything is seeded, so reruns give the same files up to
float32 rounding (~1 ulp) in a few values. Writes
test/fixtures/transformers/<family>_op<N>.onnx, test/fixtures/transformers/<family>/*.npy and index.json.

Families (input 1x3x32x32, 10 classes, every model well under 1 MB):
  vit        torchvision VisionTransformer (class token, nn.MultiheadAttention, Erf GELU)
  deit       DeiT with a distillation token (timm's Attention: qkv Linear, reshape/permute, unbind(0))
  beit       BEiT: relative position bias gathered from a table, q/v bias, layer scale, mean pooling
  swin       torchvision SwinTransformer (swin_t blocks: shifted windows via roll, qkv[0..2] gathers, mask)
  swin_v2    torchvision SwinTransformer with SwinTransformerBlockV2 / PatchMergingV2 (cosine attention,
             continuous position bias MLP, F.normalize)
  maxvit     torchvision MaxVit (MBConv + SE + BatchNorm, block/grid attention with Einsum)
  mobilevit  MobileViT (MV2 blocks, unfold -> transformer -> fold, SiLU)
(ConvNeXt is already a reference family: scripts/make_reference.py, test/fixtures/ref/convnext_op*.onnx.)

ONNX opset 18 or later cannot be written here: onnx 1.12's newest opset is 17 (and torch 1.13 exports <= 17).

Layers. Every model exposes named internal tensors (not graph outputs; their shapes are kept in value_info),
listed per model in index.json under "token_layers":
  name     the ONNX tensor name (block0, block1, ... in forward order)
  shape    its shape at batch 1
  layout   "BNC" (tokens: batch, token, channel; the first `prefix_tokens` are class/distillation tokens, the
           remaining grid[0]*grid[1] tokens are patches in row-major order), "BHWC" (Swin: channels last),
           or "BCHW" (a 4-D convolutional map)
  grid     [h, w] of the patch tokens / spatial map
"layer" names the reference layer whose gradient is saved (the last block). "features" (only where the model
has a 4-D map feeding the global pooling: maxvit, mobilevit) is the Grad-CAM layer as in test/fixtures/ref.
"attention" lists each attention-probability tensor (the Softmax outputs) with its shape, so attention
rollout can find them; "heads", "query_tokens" per entry.
"""

import copy
import json
import math
import os
import sys

import numpy as np
import onnx
import onnx.shape_inference
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import MaxVit, SwinTransformer, VisionTransformer
from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "transformers")
H = W = 32
NUM_CLASSES = 10
OPSETS = (14, 17)


# --------------------------------------------------------------------------------------
# timm-style building blocks
# --------------------------------------------------------------------------------------
class Attention(nn.Module):
    """timm's Attention: one qkv Linear, reshape (B, N, 3, heads, d) -> permute (3, B, heads, N, d) ->
    unbind(0) (exports as Split/Squeeze or Gather on axis 0 of a 5-D tensor that is not the batch)."""

    def __init__(self, dim, heads, qkv_bias=True):
        super().__init__()
        self.num_heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def qkv_out(self, x):
        return self.qkv(x)

    def forward(self, x, rel_bias=None):
        B, N, C = x.shape
        qkv = self.qkv_out(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if rel_bias is not None:
            attn = attn + rel_bias
        attn = F.softmax(attn, dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act=nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (timm's Block)."""

    def __init__(self, dim, heads, mlp_ratio=2.0, act=nn.GELU):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # B, N, C


# --------------------------------------------------------------------------------------
# DeiT (distilled): class and distillation tokens, head and head_dist averaged at inference
# --------------------------------------------------------------------------------------
class DeiT(nn.Module):
    grid = (4, 4)
    prefix = 2

    def __init__(self, dim=32, depth=2, heads=2):
        super().__init__()
        self.patch_embed = PatchEmbed(8, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 16 + 2, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, NUM_CLASSES)
        self.head_dist = nn.Linear(dim, NUM_CLASSES)

    def forward(self, x):
        x = self.patch_embed(x)
        B = x.shape[0]
        x = torch.cat((self.cls_token.expand(B, -1, -1), self.dist_token.expand(B, -1, -1), x), dim=1)
        x = x + self.pos_embed
        outs = []
        for blk in self.blocks:
            x = blk(x)
            outs.append(x)
        x = self.norm(x)
        return ((self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2, *outs)

    def last_linears(self):
        return [self.head, self.head_dist]


# --------------------------------------------------------------------------------------
# BEiT: relative position bias from a table gathered with a constant index, q/v bias (no k bias),
# layer scale, mean pooling of the patch tokens + fc_norm
# --------------------------------------------------------------------------------------
def beit_relative_position_index(wh, ww):
    num_rel = (2 * wh - 1) * (2 * ww - 1) + 3
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    index = torch.zeros((wh * ww + 1,) * 2, dtype=rel.dtype)
    index[1:, 1:] = rel.sum(-1)
    index[0, 0:] = num_rel - 3
    index[0:, 0] = num_rel - 2
    index[0, 0] = num_rel - 1
    return num_rel, index


class BeitAttention(Attention):
    def __init__(self, dim, heads, window):
        super().__init__(dim, heads, qkv_bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("k_bias", torch.zeros(dim), persistent=False)
        self.v_bias = nn.Parameter(torch.zeros(dim))
        num_rel, index = beit_relative_position_index(*window)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_rel, heads))
        self.register_buffer("relative_position_index", index, persistent=False)
        self.n = window[0] * window[1] + 1

    def qkv_out(self, x):
        bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        return F.linear(x, self.qkv.weight, bias)

    def forward(self, x, rel_bias=None):
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(self.n, self.n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        return super().forward(x, bias)


class BeitBlock(nn.Module):
    def __init__(self, dim, heads, window):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = BeitAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * 2)
        self.gamma_1 = nn.Parameter(torch.ones(dim))
        self.gamma_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x = x + self.gamma_1 * self.attn(self.norm1(x))
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class BEiT(nn.Module):
    grid = (4, 4)
    prefix = 1

    def __init__(self, dim=32, depth=2, heads=2):
        super().__init__()
        self.patch_embed = PatchEmbed(8, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(BeitBlock(dim, heads, self.grid) for _ in range(depth))
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, NUM_CLASSES)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        outs = []
        for blk in self.blocks:
            x = blk(x)
            outs.append(x)
        return (self.head(self.fc_norm(x[:, 1:].mean(1))), *outs)

    def last_linears(self):
        return [self.head]


# --------------------------------------------------------------------------------------
# MobileViT: MV2 inverted residuals + MobileViT blocks (local conv, unfold into 2x2 patches, transformer
# over the patches at each of the 4 pixel positions, fold back, fuse with the input)
# --------------------------------------------------------------------------------------
class CBS(nn.Sequential):
    def __init__(self, cin, cout, k, s=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.SiLU())
        super().__init__(*layers)


class MV2(nn.Module):
    def __init__(self, cin, cout, stride, t=2):
        super().__init__()
        hid = cin * t
        self.conv = nn.Sequential(CBS(cin, hid, 1), CBS(hid, hid, 3, stride, groups=hid), CBS(hid, cout, 1, act=False))
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.use_res else y


class MobileViTBlock(nn.Module):
    def __init__(self, c, d, depth, heads, patch=2):
        super().__init__()
        self.conv_kxk = CBS(c, c, 3)
        self.conv_1x1 = nn.Conv2d(c, d, 1, bias=False)
        self.transformer = nn.Sequential(*[Block(d, heads, 2.0, nn.SiLU) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.conv_proj = CBS(d, c, 1)
        self.conv_fusion = CBS(2 * c, c, 3)
        self.patch = patch

    def forward(self, x):
        shortcut = x
        x = self.conv_1x1(self.conv_kxk(x))
        B, C, Hh, Ww = x.shape
        p = self.patch
        nh, nw = Hh // p, Ww // p
        n, P = nh * nw, p * p
        # unfold: (B, C, H, W) -> (B * P, N, C)
        x = x.reshape(B * C * nh, p, nw, p).transpose(1, 2)
        x = x.reshape(B, C, n, P).transpose(1, 3).reshape(B * P, n, C)
        x = self.norm(self.transformer(x))
        # fold: (B * P, N, C) -> (B, C, H, W)
        x = x.contiguous().view(B, P, n, -1).transpose(1, 3).reshape(B * C * nh, nw, p, p)
        x = x.transpose(1, 2).reshape(B, C, nh * p, nw * p)
        x = self.conv_proj(x)
        return self.conv_fusion(torch.cat((shortcut, x), dim=1))


class MobileViT(nn.Module):
    grid = (4, 4)
    prefix = 0

    def __init__(self):
        super().__init__()
        self.stem = CBS(3, 8, 3, 2)  # 16x16
        self.mv1 = MV2(8, 16, 2)  # 8x8
        self.vit1 = MobileViTBlock(16, 24, 2, 2)
        self.mv2 = MV2(16, 24, 2)  # 4x4
        self.vit2 = MobileViTBlock(24, 32, 2, 2)
        self.final = CBS(24, 48, 1)
        self.fc = nn.Linear(48, NUM_CLASSES)

    def forward(self, x):
        b0 = self.vit1(self.mv1(self.stem(x)))
        b1 = self.vit2(self.mv2(b0))
        f = self.final(b1)
        return self.fc(f.mean((2, 3))), b0, b1, f

    def last_linears(self):
        return [self.fc]


# --------------------------------------------------------------------------------------
# torchvision models, wrapped so that the block outputs come out as named tensors
# --------------------------------------------------------------------------------------
class TVViT(nn.Module):
    grid = (4, 4)
    prefix = 1

    def __init__(self):
        super().__init__()
        self.m = VisionTransformer(image_size=H, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                   mlp_dim=64, num_classes=NUM_CLASSES)

    def forward(self, x):
        m = self.m
        x = m._process_input(x)
        x = torch.cat([m.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = m.encoder.dropout(x + m.encoder.pos_embedding)
        outs = []
        for layer in m.encoder.layers:
            x = layer(x)
            outs.append(x)
        x = m.encoder.ln(x)
        return (m.heads(x[:, 0]), *outs)

    def last_linears(self):
        return [self.m.heads.head]


class TVSwin(nn.Module):
    grid = None  # per stage
    prefix = 0

    def __init__(self, v2=False):
        super().__init__()
        kw = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2} if v2 else {}
        self.m = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                 window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=NUM_CLASSES, **kw)

    def forward(self, x):
        m = self.m
        x = m.features[0](x)
        b0 = m.features[1](x)  # B, 8, 8, 16
        b1 = m.features[3](m.features[2](b0))  # B, 4, 4, 32
        y = m.norm(b1).permute(0, 3, 1, 2)
        return m.head(torch.flatten(m.avgpool(y), 1)), b0, b1

    def last_linears(self):
        return [self.m.head]


class TVMaxVit(nn.Module):
    grid = None
    prefix = 0

    def __init__(self):
        super().__init__()
        self.m = MaxVit(input_size=(H, W), stem_channels=8, partition_size=4, block_channels=[16, 24],
                        block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0, num_classes=NUM_CLASSES)

    def forward(self, x):
        m = self.m
        x = m.stem(x)
        outs = []
        for block in m.blocks:
            x = block(x)
            outs.append(x)
        return (m.classifier(x), *outs)

    def last_linears(self):
        return [self.m.classifier[-1]]


def _exportable_shifted_window_attention():
    """torchvision 0.14's shifted_window_attention zeroes the key third of the V2 qkv bias in place
    (`qkv_bias[length:2 * length].zero_()`), which torch 1.13 cannot export (aten::zero). The same function with
    that line written as a concatenation (timm's form; identical values) is installed in its module."""
    import inspect
    import torchvision.models.swin_transformer as sw

    src = inspect.getsource(sw.shifted_window_attention)
    old = "qkv_bias[length : 2 * length].zero_()"
    assert old in src, "torchvision's shifted_window_attention changed"
    src = src.replace(old, "qkv_bias = torch.cat((qkv_bias[:length], torch.zeros_like(qkv_bias[length : 2 * length]), "
                           "qkv_bias[2 * length :]))")
    ns = dict(sw.__dict__)
    exec(compile(src, sw.__file__, "exec"), ns)
    sw.shifted_window_attention = ns["shifted_window_attention"]


def swin_v2():
    _exportable_shifted_window_attention()
    return TVSwin(v2=True)


FAMILIES = [
    # name, constructor, extra
    ("vit", TVViT, {}),
    ("deit", DeiT, {"dynamic_batch": True}),
    ("beit", BEiT, {}),
    ("swin", TVSwin, {"dynamic_batch": True}),
    ("swin_v2", swin_v2, {}),
    ("maxvit", TVMaxVit, {}),
    ("mobilevit", MobileViT, {}),
]


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------
def init_model(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            if any(k in name for k in ("class_token", "cls_token", "dist_token", "pos_embed")):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "relative_position_bias_table" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif leaf in ("gamma_1", "gamma_2"):
                p.copy_(0.3 + 0.4 * torch.rand(p.shape, generator=g))
            elif leaf in ("q_bias", "v_bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(1.5 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.MultiheadAttention):
                m.in_proj_weight.copy_(torch.randn(m.in_proj_weight.shape, generator=g) * math.sqrt(1.5 / m.embed_dim))
                m.in_proj_bias.copy_(torch.randn(m.in_proj_bias.shape, generator=g) * 0.1)
        # BatchNorm running statistics from one train-mode pass (cumulative average).
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        calib = torch.randn((32, 3, H, W), generator=g)
        if bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            model.train()
            model(calib)
        model.eval()
        for m in bns:
            m.momentum = 0.1
        # Scale the classifier so that logits have a standard deviation of about 3.
        logits = model(calib)[0]
        s = 3.0 / float(logits.std())
        for last in model.last_linears():
            last.weight.mul_(s)
            if last.bias is not None:
                last.bias.mul_(s)


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
def layer_names(n):
    return [f"block{i}" for i in range(n)]


def export(model, x, path, opset, names, dynamic_batch):
    tmp = path + ".tmp"
    kwargs = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {k: {0: "batch"} for k in ["input", "logits", *names]}
    torch.onnx.export(model, (x,), tmp, opset_version=opset, do_constant_folding=True,
                      input_names=["input"], output_names=["logits", *names], **kwargs)
    m = onnx.load(tmp)
    os.remove(tmp)
    keep = [o for o in m.graph.output if o.name == "logits"]
    internal = [o for o in m.graph.output if o.name != "logits"]
    del m.graph.output[:]
    m.graph.output.extend(keep)
    m.graph.value_info.extend(internal)  # keep the shapes of the internal tensors
    onnx.checker.check_model(m, full_check=True)
    for nm in names:
        assert sum(1 for n in m.graph.node if nm in n.output) == 1, f"no node produces '{nm}'"
    onnx.save(m, path)
    return m


def attention_tensors(m):
    """Softmax outputs (attention probabilities) with their inferred shapes, in graph order."""
    inferred = onnx.shape_inference.infer_shapes(m)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    out = []
    for n in m.graph.node:
        if n.op_type == "Softmax":
            out.append({"node": n.name, "tensor": n.output[0], "shape": shapes.get(n.output[0])})
    return out


def op_types(m):
    return sorted({n.op_type for n in m.graph.node})


def layer_entries(family, outs):
    entries = []
    for i, t in enumerate(outs):
        shape = list(t.shape)
        if family in ("swin", "swin_v2"):
            layout, grid = "BHWC", shape[1:3]
        elif t.dim() == 4:
            layout, grid = "BCHW", shape[2:4]
        else:
            layout, grid = "BNC", None
        entries.append({"name": f"block{i}", "shape": shape, "layout": layout, "grid": grid})
    return entries


# --------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------
_SOFTMAX = F.softmax
SOFTMAX_OUTPUTS = []


def _recording_softmax(*args, **kwargs):
    y = _SOFTMAX(*args, **kwargs)
    SOFTMAX_OUTPUTS.append(y)
    return y


def grads(model, x, classes, layer_index, attention=False):
    """d logit_c / d input and d logit_c / d (reference layer) for each class; x's dtype decides precision. With
    attention, also d logit_c / d (the last attention probabilities): every F.softmax output is recorded (the
    attention modules here all call F.softmax; nn.MultiheadAttention does too) and the last one is used."""
    out = {}
    for c in classes:
        xx = x.clone().requires_grad_(True)
        SOFTMAX_OUTPUTS.clear()
        F.softmax = _recording_softmax
        try:
            res = model(xx)
        finally:
            F.softmax = _SOFTMAX
        logits, layer = res[0], res[1 + layer_index]
        wrt = [layer, xx] + ([SOFTMAX_OUTPUTS[-1]] if attention else [])
        g = torch.autograd.grad(logits[0, c], wrt)
        out[c] = (g[0].detach(), g[1].detach(), layer.detach()) + ((g[2].detach(), len(SOFTMAX_OUTPUTS)) if attention else ())
    SOFTMAX_OUTPUTS.clear()
    return out


def max_rel_error(a, truth):
    a, truth = np.asarray(a, np.float64), np.asarray(truth, np.float64)
    return float(np.abs(a - truth).max() / np.abs(truth).max())


def save32(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


def save64(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float64))


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_transformer_models.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "onnx": onnx.__version__,
        "input_shape": [1, 3, H, W],
        "opset_18_or_later": "not exported: onnx 1.12 (Debian) knows opsets up to 17",
        "conventions": {
            "token_layers": "named internal tensors (block0, block1, ...: the output of each transformer block or "
                            "stage); layout BNC (prefix_tokens class/distillation tokens first, then grid[0]*grid[1] "
                            "patch tokens, row-major), BHWC (Swin) or BCHW",
            "layer": "the reference layer: the last entry of token_layers",
            "layer_grad": "d logit_c / d layer at batch 1 (float32 autograd); layer_grad_f64: the same in float64 on "
                          "a double copy of the weights; layer_act: the layer's activation (float32)",
            "saliency": "d logit_c / d input, batch dim dropped, shape (3, H, W) (float32 autograd)",
            "saliency_f64": "the same in float64 on a double copy of the weights (stored as float64)",
            "float32_max_rel_error": "max |float32 autograd - float64 autograd| / max |float64|, per class, for "
                                     "saliency and layer_grad: PyTorch float32's own error",
            "guided_deconv": "no model here has a Relu or Clip(min 0) (GELU / SiLU), so guided backprop and "
                             "deconvnet gradients equal the saliency",
            "gradcam": "only where 'features' exists (4-D map feeding the pooling): ReLU(sum_k alpha_k A_k), "
                       "alpha_k = mean_hw d logit_c / d A_k",
            "attention": "Softmax outputs in graph order (attention probabilities), with inferred shapes",
            "attention_grad": "d logit_c / d (the last Softmax output, attention_grad_tensor), its full forward shape "
                              "(axis 0 may be batch x heads or batch x windows); attention_grad_f64 in float64",
        },
        "models": [],
        "families": {},
    }
    report = []
    for fi, (family, ctor, extra) in enumerate(FAMILIES):
        torch.manual_seed(3000 + fi)
        model = ctor()
        init_model(model, 3000 + fi)
        x = torch.randn((1, 3, H, W), generator=torch.Generator().manual_seed(4000 + fi))
        with torch.no_grad():
            res = model(x)
        logits, outs = res[0], list(res[1:])
        has_features = family in ("mobilevit",)
        n_layers = len(outs) - (1 if has_features else 0)
        names = layer_names(n_layers) + (["features"] if has_features else [])
        if family == "maxvit":
            names = layer_names(n_layers)
        tl = layer_entries(family, outs[:n_layers])
        for e in tl:
            if e["layout"] == "BNC":
                e["grid"] = list(model.grid)
                e["prefix_tokens"] = model.prefix
        ref_index = n_layers - 1
        ref_layer = tl[ref_index]["name"]
        features = "features" if has_features else ("block1" if family == "maxvit" else None)

        lg = logits[0].numpy()
        order = np.argsort(-lg, kind="stable")
        classes = [int(order[0]), int(order[2])]
        assert np.diff(np.sort(lg)).min() > 1e-3, f"{family}: near-tied logits"

        fdir = os.path.join(OUT, family)
        os.makedirs(fdir, exist_ok=True)
        save32(os.path.join(fdir, "input.npy"), x.numpy())
        save32(os.path.join(fdir, "logits.npy"), logits.numpy())

        g32 = grads(model, x, classes, ref_index, attention=True)
        m64 = copy.deepcopy(model).double()
        g64 = grads(m64, x.double(), classes, ref_index, attention=True)
        fg32 = fg64 = None
        if features is not None:
            fi_idx = names.index(features)
            fg32 = grads(model, x, classes, fi_idx)
        per_class, err = {}, {"saliency": {}, "layer_grad": {}, "attention_grad": {}}
        n_softmax = g32[classes[0]][4]
        for c in classes:
            gl, gx, A, ga, _ = g32[c]
            gl64, gx64, _, ga64, _ = g64[c]
            files = {
                "layer_grad": f"layer_grad_c{c}.npy",
                "layer_grad_f64": f"layer_grad_f64_c{c}.npy",
                "saliency": f"saliency_c{c}.npy",
                "saliency_f64": f"saliency_f64_c{c}.npy",
            }
            save32(os.path.join(fdir, files["layer_grad"]), gl.numpy())
            save64(os.path.join(fdir, files["layer_grad_f64"]), gl64.numpy())
            save32(os.path.join(fdir, files["saliency"]), gx[0].numpy())
            save64(os.path.join(fdir, files["saliency_f64"]), gx64[0].numpy())
            err["saliency"][str(c)] = max_rel_error(gx[0].numpy(), gx64[0].numpy())
            err["layer_grad"][str(c)] = max_rel_error(gl.numpy(), gl64.numpy())
            files["attention_grad"] = f"attention_grad_c{c}.npy"
            files["attention_grad_f64"] = f"attention_grad_f64_c{c}.npy"
            save32(os.path.join(fdir, files["attention_grad"]), ga.numpy())
            save64(os.path.join(fdir, files["attention_grad_f64"]), ga64.numpy())
            err["attention_grad"][str(c)] = max_rel_error(ga.numpy(), ga64.numpy())
            if fg32 is not None:
                fgl, _, FA = fg32[c][:3]
                alpha = fgl[0].mean(dim=(1, 2))
                gradcam = torch.relu((alpha[:, None, None] * FA[0]).sum(0))
                files["features_grad"] = f"features_grad_c{c}.npy"
                files["gradcam"] = f"gradcam_c{c}.npy"
                save32(os.path.join(fdir, files["features_grad"]), fgl.numpy())
                save32(os.path.join(fdir, files["gradcam"]), gradcam.numpy())
            per_class[str(c)] = {k: f"{family}/{v}" for k, v in files.items()}
        save32(os.path.join(fdir, "layer_act.npy"), outs[ref_index].numpy())

        fam = {
            "classes": classes,
            "layer": ref_layer,
            "features": features,
            "token_layers": tl,
            "logits_top3": [float(v) for v in lg[order[:3]]],
            "input": f"{family}/input.npy",
            "logits": f"{family}/logits.npy",
            "layer_act": f"{family}/layer_act.npy",
            "per_class": per_class,
            "float32_max_rel_error": err,
            "parameters": int(sum(p.numel() for p in model.parameters())),
        }
        index["families"][family] = fam
        for opset in OPSETS:
            fname = f"{family}_op{opset}.onnx"
            path = os.path.join(OUT, fname)
            m = export(model, x, path, opset, names, extra.get("dynamic_batch", False))
            entry = {
                **fam,
                "file": fname,
                "family": family,
                "opset": opset,
                "input_shape": [1, 3, H, W],
                "dynamic_batch": bool(extra.get("dynamic_batch", False)),
                "bytes": os.path.getsize(path),
                "op_types": op_types(m),
                "attention": attention_tensors(m),
            }
            assert len(entry["attention"]) == n_softmax, f"{fname}: {len(entry['attention'])} Softmax nodes, {n_softmax} F.softmax calls"
            entry["attention_grad_tensor"] = entry["attention"][-1]["tensor"]
            index["models"].append(entry)
            report.append(f"{fname} ({entry['bytes'] // 1024} KiB): {' '.join(entry['op_types'])}")
        print(f"{family}: classes {classes} logits {np.round(lg, 2).tolist()} params {fam['parameters']} "
              f"layers {[(e['name'], e['shape']) for e in tl]} f32 err {err}", file=sys.stderr)

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
