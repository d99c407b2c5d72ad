#!/usr/bin/python3
"""Build small reference CNNs with PyTorch, export them to ONNX and save reference
gradients (Grad-CAM, saliency, guided backprop, deconvnet, CAM) computed by autograd.

Run from the repository root:

    /usr/bin/python3 scripts/make_reference.py

Needs Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy; no network,
no pretrained weights. Everything is seeded, so reruns give identical files.
See scripts/README-reference.md for the conventions.
"""

import copy
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "ref")
H = W = 24
NUM_CLASSES = 10
OPSETS = (11, 13, 17)
ATTENTION_OPSETS = (13,)

# --------------------------------------------------------------------------------------
# Rectifiers. Every ReLU / ReLU6 in the nets goes through Rect so that guided backprop
# and deconvnet rules apply wherever the ONNX graph has a Relu or a Clip(min 0).
# --------------------------------------------------------------------------------------
RULE = {"mode": "normal"}  # normal | guided | deconv
STATS = {"calls": 0, "pos_frac": [], "hi_frac": []}
TRACK = {"on": False}


class _GuidedFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(min=lo, max=hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = (x > ctx.lo) & (x < ctx.hi) & (g > 0)
        return g * mask.to(g.dtype), None, None


class _DeconvFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        return x.clamp(min=lo, max=hi)

    @staticmethod
    def backward(ctx, g):
        return g.clamp(min=0), None, None


class Rect(nn.Module):
    """ReLU (hi=None) or ReLU6 (hi=6). Exports as Relu / Clip(0, 6)."""

    def __init__(self, hi=None):
        super().__init__()
        self.hi = hi

    def forward(self, x):
        STATS["calls"] += 1
        if TRACK["on"]:
            STATS["pos_frac"].append(float((x > 0).float().mean()))
            if self.hi is not None:
                STATS["hi_frac"].append(float((x >= self.hi).float().mean()))
        mode = RULE["mode"]
        if mode == "normal":
            return F.relu(x) if self.hi is None else F.relu6(x)
        hi = math.inf if self.hi is None else float(self.hi)
        fn = _GuidedFn if mode == "guided" else _DeconvFn
        return fn.apply(x, 0.0, hi)


def make_act(kind):
    if kind == "relu":
        return Rect()
    if kind == "relu6":
        return Rect(6.0)
    if kind == "hswish":
        return nn.Hardswish()
    if kind == "silu":
        return nn.SiLU()
    raise ValueError(kind)


class CBA(nn.Module):
    """Conv (no bias) -> BatchNorm -> optional activation. The activation attribute is
    named after its kind ("relu", "relu6", "hswish", "silu") so ONNX node names show it."""

    def __init__(self, cin, cout, k, s=1, p=None, groups=1, act="relu"):
        super().__init__()
        if p is None:
            p = (k - 1) // 2 if isinstance(k, int) else tuple((kk - 1) // 2 for kk in k)
        self.conv = nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act_name = act
        if act is not None:
            setattr(self, act, make_act(act))

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act_name is not None:
            x = getattr(self, self.act_name)(x)
        return x


def gap():
    return nn.AdaptiveAvgPool2d(1)


# --------------------------------------------------------------------------------------
# 1. resnet
# --------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = CBA(cin, cout, 3, stride, act="relu")
        self.conv2 = CBA(cout, cout, 3, 1, act=None)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = CBA(cin, cout, 1, stride, p=0, act=None)
        self.relu = Rect()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 8, 3, 2, act="relu")
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.avgpool = gap()
        self.fc = nn.Linear(16, NUM_CLASSES)

    def forward(self, x):
        f = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


# --------------------------------------------------------------------------------------
# 2. vgg (no BatchNorm)
# --------------------------------------------------------------------------------------
class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1_1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1_1 = Rect()
        self.conv1_2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu1_2 = Rect()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2_1 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2_1 = Rect()
        self.conv2_2 = nn.Conv2d(16, 16, 3, padding=1)
        self.relu2_2 = Rect()
        self.pool2 = nn.MaxPool2d(2)
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 6 -> 3 (floor would give 2)
        self.avgpool = gap()
        self.fc1 = nn.Linear(16, 32)
        self.relu_fc = Rect()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        x = self.pool1(self.relu1_2(self.conv1_2(self.relu1_1(self.conv1_1(x)))))
        x = self.pool2(self.relu2_2(self.conv2_2(self.relu2_1(self.conv2_1(x)))))
        f = self.pool3(x)
        y = torch.flatten(self.avgpool(f), 1)
        return self.fc2(self.drop(self.relu_fc(self.fc1(y)))), f


# --------------------------------------------------------------------------------------
# 3. mobilenetv2
# --------------------------------------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hid = cin * t
        self.expand = CBA(cin, hid, 1, act="relu6") if t != 1 else None
        self.dw = CBA(hid, hid, 3, stride, groups=hid, act="relu6")
        self.project = CBA(hid, cout, 1, act=None)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return x + y if self.use_res else y


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 8, 3, 2, act="relu6")
        self.ir1 = InvertedResidual(8, 8, 1, 1)
        self.ir2 = InvertedResidual(8, 12, 2, 4)
        self.ir3 = InvertedResidual(12, 12, 1, 4)
        self.last = CBA(12, 32, 1, act="relu6")
        self.avgpool = gap()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        f = self.last(self.ir3(self.ir2(self.ir1(self.stem(x)))))
        return self.fc(self.drop(torch.flatten(self.avgpool(f), 1))), f


# --------------------------------------------------------------------------------------
# 4. mobilenetv3
# --------------------------------------------------------------------------------------
class SEHardsigmoid(nn.Module):
    def __init__(self, c, sq):
        super().__init__()
        self.avgpool = gap()
        self.fc1 = nn.Conv2d(c, sq, 1)
        self.relu = Rect()
        self.fc2 = nn.Conv2d(sq, c, 1)
        self.hsigmoid = nn.Hardsigmoid()

    def forward(self, x):
        s = self.hsigmoid(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return x * s


class MBv3Block(nn.Module):
    def __init__(self, cin, hid, cout, k, stride, act, se):
        super().__init__()
        self.expand = CBA(cin, hid, 1, act=act) if hid != cin else None
        self.dw = CBA(hid, hid, k, stride, groups=hid, act=act)
        self.se = SEHardsigmoid(hid, max(4, hid // 4)) if se else None
        self.project = CBA(hid, cout, 1, act=None)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.use_res else y


class MobileNetV3(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 8, 3, 2, act="hswish")
        self.b1 = MBv3Block(8, 8, 8, 3, 1, "relu", se=True)
        self.b2 = MBv3Block(8, 24, 16, 5, 2, "hswish", se=True)
        self.last = CBA(16, 48, 1, act="hswish")
        self.avgpool = gap()
        self.fc1 = nn.Linear(48, 32)
        self.hswish = nn.Hardswish()
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        f = self.last(self.b2(self.b1(self.stem(x))))
        y = torch.flatten(self.avgpool(f), 1)
        return self.fc2(self.drop(self.hswish(self.fc1(y)))), f


# --------------------------------------------------------------------------------------
# 5. efficientnet
# --------------------------------------------------------------------------------------
class SESigmoid(nn.Module):
    def __init__(self, c, sq):
        super().__init__()
        self.avgpool = gap()
        self.fc1 = nn.Conv2d(c, sq, 1)
        self.silu = nn.SiLU()
        self.fc2 = nn.Conv2d(sq, c, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.silu(self.fc1(self.avgpool(x)))))


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, t):
        super().__init__()
        hid = cin * t
        self.expand = CBA(cin, hid, 1, act="silu") if t != 1 else None
        self.dw = CBA(hid, hid, k, stride, groups=hid, act="silu")
        self.se = SESigmoid(hid, max(2, cin // 4))
        self.project = CBA(hid, cout, 1, act=None)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.se(self.dw(y)))
        return x + y if self.use_res else y


class EfficientNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 8, 3, 2, act="silu")
        self.mb1 = MBConv(8, 8, 3, 1, 1)
        self.mb2 = MBConv(8, 16, 5, 2, 4)
        self.head = CBA(16, 48, 1, act="silu")
        self.avgpool = gap()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(48, NUM_CLASSES)

    def forward(self, x):
        f = self.head(self.mb2(self.mb1(self.stem(x))))
        return self.fc(self.drop(torch.flatten(self.avgpool(f), 1))), f


# --------------------------------------------------------------------------------------
# 6. densenet
# --------------------------------------------------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = Rect()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = Rect()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, inputs):
        x = torch.cat(inputs, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.Module):
    def __init__(self, cin, n, growth, bn_size):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth, bn_size) for i in range(n))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = Rect()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))


class DenseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2, act="relu")
        self.block1 = DenseBlock(16, 2, 8, 2)  # 32 ch
        self.trans1 = Transition(32, 16)
        self.block2 = DenseBlock(16, 2, 8, 2)  # 32 ch
        self.norm5 = nn.BatchNorm2d(32)  # follows Concat: not folded
        self.relu5 = Rect()
        self.avgpool = gap()
        self.fc = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        x = self.block2(self.trans1(self.block1(self.stem(x))))
        f = self.relu5(self.norm5(x))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


# --------------------------------------------------------------------------------------
# 7. inception
# --------------------------------------------------------------------------------------
class MixedA(nn.Module):
    """Pool branch: explicit ZeroPad2d(1) + AvgPool2d(3, 1) (Pad -> AveragePool, zeros
    counted in the average)."""

    def __init__(self, cin):
        super().__init__()
        self.branch1x1 = CBA(cin, 8, 1)
        self.branch3x3_1 = CBA(cin, 8, 1)
        self.branch3x3_2 = CBA(8, 8, 3)
        self.pool_pad = nn.ZeroPad2d(1)
        self.pool = nn.AvgPool2d(3, stride=1)
        self.branch_pool = CBA(cin, 8, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b2 = self.branch3x3_2(self.branch3x3_1(x))
        b3 = self.branch_pool(self.pool(self.pool_pad(x)))
        return torch.cat([b1, b2, b3], 1)


class MixedB(nn.Module):
    """Asymmetric 1x7 / 7x1 branch; pool branch AvgPool2d(3, 1, padding=1,
    count_include_pad=False) (AveragePool with pads, count_include_pad=0)."""

    def __init__(self, cin):
        super().__init__()
        self.branch1x1 = CBA(cin, 8, 1)
        self.branch7_1 = CBA(cin, 8, 1)
        self.branch7_2 = CBA(8, 8, (1, 7))
        self.branch7_3 = CBA(8, 8, (7, 1))
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.branch_pool = CBA(cin, 8, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b2 = self.branch7_3(self.branch7_2(self.branch7_1(x)))
        b3 = self.branch_pool(self.pool(x))
        return torch.cat([b1, b2, b3], 1)


class Inception(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.mixed_a = MixedA(16)  # 24 ch
        self.reduce = CBA(24, 24, 3, 2)
        self.mixed_b = MixedB(24)  # 24 ch
        self.avgpool = gap()
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        f = self.mixed_b(self.reduce(self.mixed_a(self.stem(x))))
        return self.fc(self.drop(torch.flatten(self.avgpool(f), 1))), f


# --------------------------------------------------------------------------------------
# 8. shufflenet (export with a dynamic batch)
# --------------------------------------------------------------------------------------
def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        bf = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(OrderedDict(
                dw=CBA(cin, cin, 3, stride, groups=cin, act=None),
                pw=CBA(cin, bf, 1, act="relu"),
            ))
        b2_in = cin if stride > 1 else bf
        self.branch2 = nn.Sequential(OrderedDict(
            pw1=CBA(b2_in, bf, 1, act="relu"),
            dw=CBA(bf, bf, 3, stride, groups=bf, act=None),
            pw2=CBA(bf, bf, 1, act="relu"),
        ))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.unit1 = ShuffleUnit(16, 32, 2)
        self.unit2 = ShuffleUnit(32, 32, 1)
        self.conv5 = CBA(32, 48, 1)
        self.fc = nn.Linear(48, NUM_CLASSES)

    def forward(self, x):
        f = self.conv5(self.unit2(self.unit1(self.stem(x))))
        return self.fc(f.mean([2, 3])), f


# --------------------------------------------------------------------------------------
# 9. convnext
# --------------------------------------------------------------------------------------
class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.gelu = nn.GELU()  # exact (erf)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.empty(dim, 1, 1))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.gelu(self.pwconv1(self.norm(y))))
        y = y.permute(0, 3, 1, 2)
        return x + self.layer_scale * y


class ConvNeXt(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem_conv = nn.Conv2d(3, 16, 2, 2)  # patchify, 16
        self.stem_norm = LayerNorm2d(16, eps=1e-6)
        self.stage1 = CNBlock(16)
        self.down_norm = LayerNorm2d(16, eps=1e-6)
        self.down_conv = nn.Conv2d(16, 24, 2, 2)
        self.stage2 = CNBlock(24)
        self.avgpool = gap()
        self.head_norm = LayerNorm2d(24, eps=1e-6)
        self.fc = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        x = self.stage1(self.stem_norm(self.stem_conv(x)))
        f = self.stage2(self.down_conv(self.down_norm(x)))
        y = torch.flatten(self.head_norm(self.avgpool(f)), 1)
        return self.fc(y), f


# --------------------------------------------------------------------------------------
# 10. squeezenet (1.1 style, conv-as-classifier)
# --------------------------------------------------------------------------------------
class Fire(nn.Module):
    def __init__(self, cin, sq, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, sq, 1)
        self.squeeze_relu = Rect()
        self.expand1x1 = nn.Conv2d(sq, e1, 1)
        self.expand1x1_relu = Rect()
        self.expand3x3 = nn.Conv2d(sq, e3, 3, padding=1)
        self.expand3x3_relu = Rect()

    def forward(self, x):
        x = self.squeeze_relu(self.squeeze(x))
        return torch.cat([self.expand1x1_relu(self.expand1x1(x)),
                          self.expand3x3_relu(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 2, padding=1)
        self.relu1 = Rect()
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.fire2 = Fire(16, 4, 8, 8)
        self.fire3 = Fire(16, 4, 8, 8)
        self.fire4 = Fire(16, 8, 16, 16)
        self.drop = nn.Dropout(0.5)
        self.final_conv = nn.Conv2d(32, NUM_CLASSES, 1)
        self.relu_final = Rect()
        self.avgpool = gap()

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.fire4(self.fire3(self.fire2(x)))
        f = self.relu_final(self.final_conv(self.drop(x)))
        return torch.flatten(self.avgpool(f), 1), f


# --------------------------------------------------------------------------------------
# 11. se_net
# --------------------------------------------------------------------------------------
class SELinear(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.avgpool = gap()
        self.fc1 = nn.Linear(c, c // r)
        self.relu = Rect()
        self.fc2 = nn.Linear(c // r, c)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        s = torch.flatten(self.avgpool(x), 1)
        s = self.sigmoid(self.fc2(self.relu(self.fc1(s)))).view(b, c, 1, 1)
        return x * s


class SEBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = CBA(cin, cout, 3, stride)
        self.conv2 = CBA(cout, cout, 3, act=None)
        self.se = SELinear(cout)
        self.downsample = CBA(cin, cout, 1, stride, p=0, act=None) if (stride != 1 or cin != cout) else None
        self.relu = Rect()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.se(self.conv2(self.conv1(x))) + identity)


class SENet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.layer1 = SEBasicBlock(16, 16, 1)
        self.layer2 = SEBasicBlock(16, 24, 2)
        self.avgpool = gap()
        self.fc = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        f = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


# --------------------------------------------------------------------------------------
# 12. cbam
# --------------------------------------------------------------------------------------
class ChannelGate(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.maxpool = nn.AdaptiveMaxPool2d(1)
        self.mlp_fc1 = nn.Conv2d(c, c // r, 1)
        self.mlp_relu = Rect()
        self.mlp_fc2 = nn.Conv2d(c // r, c, 1)
        self.sigmoid = nn.Sigmoid()

    def mlp(self, v):
        return self.mlp_fc2(self.mlp_relu(self.mlp_fc1(v)))

    def forward(self, x):
        return x * self.sigmoid(self.mlp(self.avgpool(x)) + self.mlp(self.maxpool(x)))


class SpatialGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        pooled = torch.cat([torch.max(x, 1, keepdim=True)[0], torch.mean(x, 1, keepdim=True)], 1)
        return x * self.sigmoid(self.bn(self.conv(pooled)))


class CBAMBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = CBA(cin, cout, 3, stride)
        self.conv2 = CBA(cout, cout, 3, act=None)
        self.channel_gate = ChannelGate(cout)
        self.spatial_gate = SpatialGate()
        self.downsample = CBA(cin, cout, 1, stride, p=0, act=None) if (stride != 1 or cin != cout) else None
        self.relu = Rect()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.spatial_gate(self.channel_gate(self.conv2(self.conv1(x))))
        return self.relu(y + identity)


class CBAMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.layer1 = CBAMBlock(16, 16, 1)
        self.layer2 = CBAMBlock(16, 24, 2)
        self.avgpool = gap()
        self.fc = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        f = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


# --------------------------------------------------------------------------------------
# 13. residual_attention
# --------------------------------------------------------------------------------------
class AttentionModule(nn.Module):
    """out = (1 + mask) * trunk; mask = Sigmoid(conv(Upsample(CBA(MaxPool(x)))))."""

    def __init__(self, c):
        super().__init__()
        self.trunk1 = CBA(c, c, 3)
        self.trunk2 = CBA(c, c, 3)
        self.mask_pool = nn.MaxPool2d(3, 2, padding=1)
        self.mask_conv = CBA(c, c, 3)
        self.mask_up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.mask_out = CBA(c, c, 1, act=None)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        trunk = self.trunk2(self.trunk1(x))
        mask = self.sigmoid(self.mask_out(self.mask_up(self.mask_conv(self.mask_pool(x)))))
        return (1 + mask) * trunk


class ResidualAttentionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.pre = CBA(16, 16, 3, act=None)  # no rectifier before the mask MaxPool: no ties
        self.attention = AttentionModule(16)
        self.post = CBA(16, 24, 3, 2)
        self.avgpool = gap()
        self.fc = nn.Linear(24, NUM_CLASSES)

    def forward(self, x):
        f = self.post(self.attention(self.pre(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


# --------------------------------------------------------------------------------------
# 14. regnet (RegNet-Y style)
# --------------------------------------------------------------------------------------
class SESigmoidReLU(nn.Module):
    """RegNet-Y's squeeze-excitation: GAP -> 1x1 conv -> ReLU -> 1x1 conv -> Sigmoid -> Mul."""

    def __init__(self, c, sq):
        super().__init__()
        self.avgpool = gap()
        self.fc1 = nn.Conv2d(c, sq, 1)
        self.relu = Rect()
        self.fc2 = nn.Conv2d(sq, c, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avgpool(x)))))


class YBlock(nn.Module):
    """1x1 CBA -> 3x3 group conv CBA (stride s, group width 8) -> SE -> 1x1 CB, plus a
    1x1 CB projection when the shape changes, then ReLU (torchvision's ResBottleneckBlock)."""

    def __init__(self, cin, cout, stride, group_width=8, se_ratio=0.25):
        super().__init__()
        self.a = CBA(cin, cout, 1)
        self.b = CBA(cout, cout, 3, stride, groups=cout // group_width)
        self.se = SESigmoidReLU(cout, max(1, int(round(cin * se_ratio))))
        self.c = CBA(cout, cout, 1, act=None)
        self.proj = CBA(cin, cout, 1, stride, p=0, act=None) if stride != 1 or cin != cout else None
        self.relu = Rect()

    def forward(self, x):
        identity = x if self.proj is None else self.proj(x)
        return self.relu(self.c(self.se(self.b(self.a(x)))) + identity)


class RegNetY(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = CBA(3, 16, 3, 2)
        self.block1 = YBlock(16, 24, 2)
        self.block2 = YBlock(24, 24, 1)
        self.block3 = YBlock(24, 32, 1)
        self.avgpool = gap()
        self.fc = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        f = self.block3(self.block2(self.block1(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(f), 1)), f


FAMILIES = [
    # name, class, opsets, extra
    ("resnet", ResNet, OPSETS, {}),
    ("vgg", VGG, OPSETS, {}),
    ("mobilenetv2", MobileNetV2, OPSETS, {"bn_gamma": (1.0, 3.5)}),
    ("mobilenetv3", MobileNetV3, OPSETS, {}),
    ("efficientnet", EfficientNet, OPSETS, {}),
    ("densenet", DenseNet, OPSETS, {}),
    ("inception", Inception, OPSETS, {}),
    ("shufflenet", ShuffleNet, OPSETS, {"dynamic_batch": True}),
    ("convnext", ConvNeXt, OPSETS, {}),
    ("squeezenet", SqueezeNet, OPSETS, {}),
    ("se_net", SENet, ATTENTION_OPSETS, {"attention": "se"}),
    ("cbam", CBAMNet, ATTENTION_OPSETS, {"attention": "cbam"}),
    ("residual_attention", ResidualAttentionNet, ATTENTION_OPSETS, {"attention": "residual_attention"}),
    # Appended last: the seeds of the families above (1000 + position) stay as they were.
    ("regnet", RegNetY, OPSETS, {}),
]


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------
def last_layer(model):
    if isinstance(model, SqueezeNet):
        return model.final_conv
    for name in ("fc2", "fc"):
        if hasattr(model, name):
            return getattr(model, name)
    raise ValueError(type(model).__name__)


def init_model(model, seed, extra):
    g = torch.Generator().manual_seed(seed)
    gamma_lo, gamma_hi = extra.get("bn_gamma", (0.5, 1.5))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * (gamma_hi - gamma_lo) + gamma_lo)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, CNBlock):
                m.layer_scale.copy_(0.3 + 0.4 * torch.rand(m.layer_scale.shape, generator=g))
        # BatchNorm running statistics from one train-mode pass (cumulative average).
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        calib = torch.randn((32, 3, H, W), generator=g)
        model.train()
        model(calib)
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
        # Scale the classifier so that logits have a standard deviation of about 3.
        logits, _ = model(calib)
        s = 3.0 / float(logits.std())
        last = last_layer(model)
        last.weight.mul_(s)
        last.bias.mul_(s)


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
def export(model, x, path, opset, dynamic_batch):
    RULE["mode"] = "normal"
    tmp = path + ".tmp"
    kwargs = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}}
    torch.onnx.export(model, (x,), tmp, opset_version=opset, do_constant_folding=True,
                      input_names=["input"], output_names=["logits", "features"], **kwargs)
    m = onnx.load(tmp)
    os.remove(tmp)
    keep = [o for o in m.graph.output if o.name != "features"]
    feat = [o for o in m.graph.output if o.name == "features"]
    del m.graph.output[:]
    m.graph.output.extend(keep)
    m.graph.value_info.extend(feat)  # keep the shape of the internal tensor
    onnx.checker.check_model(m, full_check=True)
    assert [o.name for o in m.graph.output] == ["logits"], [o.name for o in m.graph.output]
    assert sum(1 for n in m.graph.node if "features" in n.output) == 1, "no node produces 'features'"
    onnx.save(m, path)
    return m


def const_value(m, name):
    for init in m.graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init)
    for n in m.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return onnx.numpy_helper.to_array(a.t)
    return None


def rectifier_report(m, expected_calls):
    """Relu and Clip(min 0) nodes; check each comes from a Rect module (its scope ends in a
    module attribute whose name contains 'relu') and that the count matches the number of
    Rect calls in one forward pass."""
    rects, foreign = [], []
    producer = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        if n.op_type == "Relu":
            lo = 0.0
        elif n.op_type == "Clip":
            if len(n.input) > 1 and n.input[1]:
                v = const_value(m, n.input[1])
                lo = None if v is None else float(v)
            else:
                lo = next((a.f for a in n.attribute if a.name == "min"), None)
            if lo != 0.0:
                continue
        else:
            continue
        scope = n.name.split("/")[-2] if n.name.count("/") >= 2 else ""
        entry = {"node": n.name, "op": n.op_type}
        if "relu" in scope.split(".")[-1].lower():
            # torch exports ReLU6 as Relu -> Clip(0, 6): count the pair once.
            src = producer.get(n.input[0])
            if n.op_type == "Clip" and src is not None and src.op_type == "Relu" \
                    and src.name.rsplit("/", 1)[0] == n.name.rsplit("/", 1)[0]:
                rects[-1]["op"] = "Relu+Clip"
                continue
            rects.append(entry)
        else:
            foreign.append(entry)
    return {"rectifiers": len(rects), "rect_module_calls": expected_calls,
            "rectifier_patterns": sorted({r["op"] for r in rects}),
            "non_rectifier_relu_or_clip0": foreign}


# --------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------
def forward_grads(model, x, classes, mode, want_layer):
    RULE["mode"] = mode
    out = {}
    for c in classes:
        xx = x.clone().requires_grad_(True)
        logits, feats = model(xx)
        if want_layer:
            gl, gx = torch.autograd.grad(logits[0, c], [feats, xx])
            out[c] = (gl.detach(), gx.detach(), feats.detach())
        else:
            (gx,) = torch.autograd.grad(logits[0, c], [xx])
            out[c] = (None, gx.detach(), None)
    RULE["mode"] = "normal"
    return out


def saliency_float64(model, x, classes):
    """d logit_c / d input in float64 on a double copy of the same weights (the truth that float32
    runs are measured against), and the max error of the float32 saliency relative to max |truth|."""
    m64 = copy.deepcopy(model).double()
    RULE["mode"] = "normal"
    out = {}
    for c in classes:
        xx = x.double().clone().requires_grad_(True)
        logits, _ = m64(xx)
        (gx,) = torch.autograd.grad(logits[0, c], [xx])
        out[c] = gx.detach()
    return out


def _pool_windows(x, k, s, p, ceil_mode):
    n_h, n_w = x.shape[2], x.shape[3]

    def out_len(n):
        o = (-(-(n + 2 * p - k) // s) if ceil_mode else (n + 2 * p - k) // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        return o

    oh, ow = out_len(n_h), out_len(n_w)
    eh, ew = max(0, (oh - 1) * s + k - (n_h + 2 * p)), max(0, (ow - 1) * s + k - (n_w + 2 * p))
    xp = F.pad(x, (p, p + ew, p, p + eh), value=-math.inf)
    return xp.unfold(2, k, s).unfold(3, k, s)[:, :, :oh, :ow].reshape(x.shape[0], x.shape[1], oh, ow, k * k)


def maxpool_ties(model, x, classes):
    """For every nn.MaxPool2d: windows whose maximum is attained more than once, and how many
    of them receive a non-zero gradient in the deconvnet pass. PyTorch sends a tied window's
    gradient to the first maximum (row-major); with ties on post-ReLU zeros this only matters
    for deconvnet, whose rectifier rule ignores the forward input."""
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    if not pools:
        return None
    records = []

    def hook(mod, inp, out):
        i = len(records)
        records.append({"input": inp[0].detach(), "mod": mod, "grad": None})
        if out.requires_grad:
            out.register_hook(lambda g: records[i].__setitem__("grad", g.detach()))

    handles = [m.register_forward_hook(hook) for m in pools]
    result = {"tied_windows": 0, "tied_nonzero_max": 0, "tied_with_deconv_grad": {}}
    try:
        RULE["mode"] = "deconv"
        for c in classes:
            records.clear()
            xx = x.clone().requires_grad_(True)
            logits, _ = model(xx)
            logits[0, c].backward()
            tied_total, tied_nz, with_grad = 0, 0, 0
            for r in records:
                m = r["mod"]
                k, st, pd = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride, m.padding))
                win = _pool_windows(r["input"], k, st, pd, m.ceil_mode)
                mx = win.amax(-1, keepdim=True)
                tied = (win == mx).sum(-1) > 1
                tied_total += int(tied.sum())
                tied_nz += int((tied & (mx[..., 0] != 0)).sum())
                if r["grad"] is not None:
                    with_grad += int((tied & (r["grad"] != 0)).sum())
            result["tied_windows"] = tied_total
            result["tied_nonzero_max"] = tied_nz
            result["tied_with_deconv_grad"][str(c)] = with_grad
    finally:
        RULE["mode"] = "normal"
        for h in handles:
            h.remove()
    return result


def save(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


def op_types(m):
    return sorted({n.op_type for n in m.graph.node})


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "scripts/make_reference.py",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "input_shape": [1, 3, H, W],
        "conventions": {
            "layer": "'features' is an internal tensor (not a graph output): the 4-D map feeding the global pooling",
            "gradcam": "ReLU(sum_k alpha_k A_k), alpha_k = mean_hw d logit_c / d A_k; shape (h, w), unnormalised",
            "saliency": "d logit_c / d input, batch dim dropped, shape (3, H, W)",
            "saliency_f64": "the same in float64 on a double copy of the weights (stored as float64); saliency_float32_max_rel_error: max |saliency - saliency_f64| / max |saliency_f64|",
            "guided": "Relu / Clip(min 0): grad_in = grad_out * [lo < x < hi] * [grad_out > 0]; other ops ordinary",
            "deconv": "Relu / Clip(min 0): grad_in = max(grad_out, 0); other ops ordinary",
            "cam": "resnet: sum_k W[c,k] A_k (raw, may be negative); squeezenet: channel c of the final ReLU output",
        },
        "models": [],
        "families": {},
    }
    report_lines = []
    for fi, (family, cls, opsets, extra) in enumerate(FAMILIES):
        torch.manual_seed(1000 + fi)
        model = cls()
        init_model(model, 1000 + fi, extra)
        x = torch.randn((1, 3, H, W), generator=torch.Generator().manual_seed(2000 + fi))

        # Forward with statistics about the rectifier inputs.
        RULE["mode"] = "normal"
        STATS.update(calls=0, pos_frac=[], hi_frac=[])
        TRACK["on"] = True
        with torch.no_grad():
            logits, feats = model(x)
        TRACK["on"] = False
        rect_calls = STATS["calls"]
        pos_frac = STATS["pos_frac"]
        hi_frac = STATS["hi_frac"]

        lg = logits[0].numpy()
        order = np.argsort(-lg, kind="stable")
        classes = [int(order[0]), int(order[2])]
        gaps = np.diff(np.sort(lg))
        assert gaps.min() > 1e-3, f"{family}: near-tied logits"

        fdir = os.path.join(OUT, family)
        os.makedirs(fdir, exist_ok=True)
        save(os.path.join(fdir, "input.npy"), x.numpy())
        save(os.path.join(fdir, "logits.npy"), logits.numpy())

        normal = forward_grads(model, x, classes, "normal", True)
        guided = forward_grads(model, x, classes, "guided", False)
        deconv = forward_grads(model, x, classes, "deconv", False)

        truth = saliency_float64(model, x, classes)
        per_class = {}
        float32_error = {}
        for c in classes:
            gl, gx, A = normal[c]
            alpha = gl[0].mean(dim=(1, 2))
            gradcam = torch.relu((alpha[:, None, None] * A[0]).sum(0))
            files = {
                "layer_grad": f"layer_grad_c{c}.npy",
                "gradcam": f"gradcam_c{c}.npy",
                "saliency": f"saliency_c{c}.npy",
                "guided": f"guided_c{c}.npy",
                "deconv": f"deconv_c{c}.npy",
            }
            save(os.path.join(fdir, files["layer_grad"]), gl.numpy())
            save(os.path.join(fdir, files["gradcam"]), gradcam.numpy())
            save(os.path.join(fdir, files["saliency"]), gx[0].numpy())
            files["saliency_f64"] = f"saliency_f64_c{c}.npy"
            np.save(os.path.join(fdir, files["saliency_f64"]), np.ascontiguousarray(truth[c][0].numpy(), dtype=np.float64))
            t = truth[c][0].numpy()
            float32_error[str(c)] = float(np.abs(gx[0].numpy().astype(np.float64) - t).max() / np.abs(t).max())
            save(os.path.join(fdir, files["guided"]), guided[c][1][0].numpy())
            save(os.path.join(fdir, files["deconv"]), deconv[c][1][0].numpy())
            cam = None
            if family == "resnet":
                cam = torch.einsum("k,khw->hw", model.fc.weight[c].detach(), A[0])
            elif family == "squeezenet":
                cam = A[0, c]
            if cam is not None:
                files["cam"] = f"cam_c{c}.npy"
                save(os.path.join(fdir, files["cam"]), cam.numpy())
            per_class[str(c)] = {k: f"{family}/{v}" for k, v in files.items()}

        with open(os.path.join(fdir, "classes.json"), "w") as f:
            json.dump({"classes": classes, "layer": "features", "family": family}, f, indent=1)
            f.write("\n")

        fam_entry = {
            "classes": classes,
            "layer": "features",
            "layer_shape": list(feats.shape),
            "num_classes": NUM_CLASSES,
            "logits_top3": [float(v) for v in lg[order[:3]]],
            "input": f"{family}/input.npy",
            "logits": f"{family}/logits.npy",
            "per_class": per_class,
            "rect_calls": rect_calls,
            "rect_positive_fraction_min_max": [round(min(pos_frac), 3), round(max(pos_frac), 3)] if pos_frac else None,
            "relu6_at_or_above_6_fraction_max": round(max(hi_frac), 4) if hi_frac else None,
            "saliency_float32_max_rel_error": float32_error,
        }
        ties = maxpool_ties(model, x, classes)
        if ties is not None:
            fam_entry["maxpool_ties"] = ties
        if "attention" in extra:
            fam_entry["attention"] = extra["attention"]
        index["families"][family] = fam_entry

        for opset in opsets:
            fname = f"{family}_op{opset}.onnx"
            m = export(model, x, os.path.join(OUT, fname), opset, extra.get("dynamic_batch", False))
            rep = rectifier_report(m, rect_calls)
            entry = {
                "file": fname,
                "family": family,
                "opset": opset,
                "input_shape": [1, 3, H, W],
                "dynamic_batch": bool(extra.get("dynamic_batch", False)),
                "classes": classes,
                "layer": "features",
                "layer_shape": list(feats.shape),
                "input": fam_entry["input"],
                "logits": fam_entry["logits"],
                "per_class": per_class,
                "saliency_float32_max_rel_error": float32_error,
                "op_types": op_types(m),
                "rectifiers": rep["rectifiers"],
                "rectifier_patterns": rep["rectifier_patterns"],
                "non_rectifier_relu_or_clip0": rep["non_rectifier_relu_or_clip0"],
            }
            if "attention" in extra:
                entry["attention"] = extra["attention"]
            index["models"].append(entry)
            flag = ""
            if rep["rectifiers"] != rect_calls or rep["non_rectifier_relu_or_clip0"]:
                flag = f"  !! rectifier mismatch: {rep}"
            report_lines.append(f"{fname}: {' '.join(entry['op_types'])}  [Relu/Clip0 from ReLU/ReLU6: "
                                f"{rep['rectifiers']}/{rect_calls}]{flag}")
        print(f"{family}: classes {classes} logits {np.round(lg, 2).tolist()} features {list(feats.shape)} "
              f"relu+ {fam_entry['rect_positive_fraction_min_max']} relu6>=6 {fam_entry['relu6_at_or_above_6_fraction_max']}"
              f" maxpool ties {ties}",
              file=sys.stderr)

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print("\n".join(report_lines))


if __name__ == "__main__":
    main()
