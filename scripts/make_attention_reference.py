#!/usr/bin/python3
"""Reference attention maps for scripts' own small transformers, run in float64, written to
test/fixtures/attention-ref/ (models, input, maps, index.json).

    /usr/bin/python3 scripts/make_attention_reference.py

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14), python3-onnx. About 20 s on two cores.

The maps follow the papers' equations, written here in PyTorch independently of the TypeScript code
(src/core/attention-maps/): the attention probabilities are recomputed by the script's own attention code
(checked against the unpatched torchvision module's output), kept with retain_grad, and every product is a
dense matrix product over all tokens or positions (the TypeScript code chains a row vector instead).

- attention-rollout (Abnar & Zuidema, ACL 2020, §3): Ā = fuse_h A (mean, max or min over heads),
  Â = (Ā + I) / rowsum(Ā + I), R = Â_L ⋯ Â_1; the map is the query token's row of R over the patch tokens.
- grad-rollout (Chefer, Gur & Wolf, ICCV 2021, eqs. 5-6): Ā = E_h[(∇A ⊙ A)⁺], R ← R + Ā·R from R = I,
  for the gradient of the class's logit (or softmax probability).
- raw attention (the Layers view): each layer's A[h, q, patch tokens] for the query token.

Swin (windowed attention): each layer's window attention is scattered into a dense [P, P] matrix over the
stage's positions (window partition and cyclic shift undone by running the model's own partition on a grid
of position indices); patch merging is a [P/4, P] matrix that averages the 2×2 positions a merged token is
made of; the map is the mean over the last stage's positions (the model's average pooling) of the rows of
R = Â_L ⋯ M ⋯ Â_1, on the first stage's grid.
"""
import copy
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.models.swin_transformer as swin_mod
from torchvision.models.swin_transformer import SwinTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_transformer_models as mtm  # noqa: E402  (its models, rebuilt with its seeds)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'attention-ref')
DEPTH = [0]
CAPTURED = []  # per attention layer: dict(attn=tensor with retain_grad, kind=..., ...)


def capturing_softmax(original):
    """softmax that keeps every attention-shaped result (rank ≥ 3, over the last axis) with retain_grad."""
    def softmax(t, dim=None, *args, **kwargs):
        if DEPTH[0]:  # F.softmax calls Tensor.softmax: record the outer call only
            return original(t, dim, *args, **kwargs)
        DEPTH[0] += 1
        try:
            out = original(t, dim, *args, **kwargs)
        finally:
            DEPTH[0] -= 1
        if out.dim() >= 3 and dim in (-1, out.dim() - 1) and out.requires_grad:
            out.retain_grad()
            CAPTURED.append({'attn': out, 'kind': 'global'})
        return out
    return softmax


class Capture:
    """Within the block, F.softmax, torch.softmax and Tensor.softmax record attention probabilities."""
    def __enter__(self):
        self.saved = (F.softmax, torch.softmax, torch.Tensor.softmax)
        F.softmax = capturing_softmax(self.saved[0])
        torch.softmax = capturing_softmax(self.saved[1])
        torch.Tensor.softmax = capturing_softmax(self.saved[2])
        CAPTURED.clear()

    def __exit__(self, *exc):
        F.softmax, torch.softmax, torch.Tensor.softmax = self.saved


SWA = swin_mod.shifted_window_attention


def swin_attention(input, qkv_weight, proj_weight, relative_position_bias, window_size, num_heads, shift_size,
                   attention_dropout=0.0, dropout=0.0, qkv_bias=None, proj_bias=None, logit_scale=None):
    """torchvision 0.14's shifted_window_attention (V1 and V2), noting the position of every window token of A."""
    B, H, W, C = input.shape
    assert H % window_size[0] == 0 and W % window_size[1] == 0, 'the reference assumes no padding'
    shift_size = list(shift_size)
    if window_size[0] >= H:
        shift_size[0] = 0
    if window_size[1] >= W:
        shift_size[1] = 0
    x = input
    pos = torch.arange(H * W).reshape(1, H, W, 1)
    if sum(shift_size) > 0:
        x = torch.roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
        pos = torch.roll(pos, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    nw = (H // window_size[0]) * (W // window_size[1])

    def part(t):
        c = t.shape[-1]
        t = t.view(t.shape[0], H // window_size[0], window_size[0], W // window_size[1], window_size[1], c)
        return t.permute(0, 1, 3, 2, 4, 5).reshape(t.shape[0] * nw, window_size[0] * window_size[1], c)
    x = part(x)
    pos = part(pos)[..., 0]  # [nW, w²]: the position (row-major on the H×W grid) of each window token
    if logit_scale is not None and qkv_bias is not None:
        n3 = qkv_bias.numel() // 3
        qkv_bias = torch.cat((qkv_bias[:n3], torch.zeros_like(qkv_bias[n3:2 * n3]), qkv_bias[2 * n3:]))
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        q = q * (C // num_heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1))
    attn = attn + relative_position_bias
    if sum(shift_size) > 0:
        attn_mask = x.new_zeros((H, W))
        h_slices = ((0, -window_size[0]), (-window_size[0], -shift_size[0]), (-shift_size[0], None))
        w_slices = ((0, -window_size[1]), (-window_size[1], -shift_size[1]), (-shift_size[1], None))
        count = 0
        for hs in h_slices:
            for ws in w_slices:
                attn_mask[hs[0]:hs[1], ws[0]:ws[1]] = count
                count += 1
        attn_mask = attn_mask.view(H // window_size[0], window_size[0], W // window_size[1], window_size[1])
        attn_mask = attn_mask.permute(0, 2, 1, 3).reshape(nw, window_size[0] * window_size[1])
        attn_mask = attn_mask.unsqueeze(1) - attn_mask.unsqueeze(2)
        attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
        attn = attn.view(x.size(0) // nw, nw, num_heads, x.size(1), x.size(1))
        attn = attn + attn_mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, x.size(1), x.size(1))
    attn = F.softmax(attn, dim=-1)
    CAPTURED[-1].update({'kind': 'windowed', 'pos': pos, 'grid': (H, W)})
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.linear(x, proj_weight, proj_bias)
    x = x.view(B, H // window_size[0], W // window_size[1], window_size[0], window_size[1], C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)
    if sum(shift_size) > 0:
        x = torch.roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x


def fuse(a, how):
    """[heads, n, n] → [n, n]."""
    return a.mean(0) if how == 'mean' else a.max(0).values if how == 'max' else a.min(0).values


def dense(layer, a_bar):
    """A layer's head-fused attention as a dense matrix over its positions (tokens for global layers)."""
    if layer['kind'] == 'global':
        return a_bar
    H, W = layer['grid']
    m = torch.zeros(H * W, H * W, dtype=a_bar.dtype)
    pos = layer['pos']
    for g in range(pos.shape[0]):
        idx = pos[g]
        m[idx.unsqueeze(1), idx.unsqueeze(0)] = a_bar[g]
    return m


def merge_matrix(fine, coarse):
    """[Pc, Pf]: each coarse position averages the f×f fine positions it is made of (Swin's patch merging)."""
    (hf, wf), (hc, wc) = fine, coarse
    f = hf // hc
    m = torch.zeros(hc * wc, hf * wf, dtype=torch.float64)
    for y in range(hf):
        for x in range(wf):
            m[(y // f) * wc + x // f, y * wf + x] = 1.0 / (f * f)
    return m


def product(layers, mats):
    """Â_L ⋯ Â_1 with merge matrices where consecutive layers' grids differ (as dense matrices)."""
    r = mats[0]
    for i in range(1, len(mats)):
        if mats[i].shape[0] != r.shape[0]:
            r = merge_matrix(layers[i - 1]['grid'], layers[i]['grid']) @ r
        r = mats[i] @ r
    return r


def rollout_map(layers, how, query, prefix, grid):
    mats = []
    for layer in layers:
        a = dense(layer, fuse_layer(layer, how))
        a = a + torch.eye(a.shape[0], dtype=a.dtype)
        mats.append(a / a.sum(-1, keepdim=True))
    return final_row(product(layers, mats), query, prefix, grid)


def fuse_layer(layer, how):
    a = layer['attn'].detach()
    if layer['kind'] == 'global':  # [B·heads, N, N] or [B, heads, N, N], B = 1
        return fuse(a.reshape(-1, *a.shape[-2:]), how)
    return torch.stack([fuse(a[g], how) for g in range(a.shape[0])])


def grad_rollout_map(layers, query, prefix, grid):
    mats = []
    for layer in layers:
        a, g = layer['attn'].detach(), layer['attn'].grad
        cam = (g * a).clamp(min=0)
        bar = cam.reshape(-1, *cam.shape[-2:]).mean(0) if layer['kind'] == 'global' else cam.mean(1)
        d = dense(layer, bar)
        mats.append(torch.eye(d.shape[0], dtype=d.dtype) + d)
    return final_row(product(layers, mats), query, prefix, grid)


def final_row(r, query, prefix, grid):
    row = r.mean(0) if query == 'mean' else r[query]
    return row[prefix:].reshape(grid)


def raw_rows(layers, query, prefix, grid):
    """Each global layer's attention A[h, query, patch tokens] → [heads, gh, gw]."""
    return [l['attn'].detach().reshape(-1, *l['attn'].shape[-2:])[:, query, prefix:].reshape(-1, *grid) for l in layers]


def make_swin():
    torch.manual_seed(1)
    # 64×64 input, 4×4 patches: stage 1 a 16×16 grid in 4×4 windows of 4×4 tokens, stage 2 an 8×8 grid in
    # 2×2 windows; the second block of each stage is shifted by 2 (test/fixtures/transformers' Swin has one
    # window in its last stage, so no shift there).
    return SwinTransformer(patch_size=[4, 4], embed_dim=12, depths=[2, 2], num_heads=[2, 3], window_size=[4, 4],
                           stochastic_depth_prob=0.0, num_classes=10).eval()


def transformer_family(name):
    """A model of scripts/make_transformer_models.py, rebuilt with its seeds (the weights of its committed ONNX)."""
    def build():
        names = [f[0] for f in mtm.FAMILIES]
        fi = names.index(name)
        torch.manual_seed(3000 + fi)
        model = mtm.FAMILIES[fi][1]()
        mtm.init_model(model, 3000 + fi)
        return model.eval()
    return build


FAMILIES = {
    # name: (builder, ONNX model, input .npy (None: written here), input size, prefix tokens, first patch grid, query)
    'swin-shifted': (make_swin, 'swin-shifted.onnx', None, 64, 0, (16, 16), 'mean'),
    'vit': (transformer_family('vit'), '../transformers/vit_op17.onnx', '../transformers/vit/input.npy', 32, 1, (4, 4), 0),
    'deit': (transformer_family('deit'), '../transformers/deit_op17.onnx', '../transformers/deit/input.npy', 32, 2, (4, 4), 0),
    'beit': (transformer_family('beit'), '../transformers/beit_op17.onnx', '../transformers/beit/input.npy', 32, 1, (4, 4), 0),
    'swin': (transformer_family('swin'), '../transformers/swin_op17.onnx', '../transformers/swin/input.npy', 32, 0, (8, 8), 'mean'),
    'swin_v2': (transformer_family('swin_v2'), '../transformers/swin_v2_op17.onnx', '../transformers/swin_v2/input.npy', 32, 0, (8, 8), 'mean'),
}


def logits_of(out):
    return out[0] if isinstance(out, tuple) else out


def with_grids(layers):
    for i in range(1, len(layers)):
        layers[i]['grid_prev'] = layers[i - 1].get('grid')
    return layers


def run(model, x):
    """The logits, with CAPTURED holding each attention layer's probabilities (Swin's with token positions)."""
    with Capture():
        swin_mod.shifted_window_attention = swin_attention
        try:
            out = logits_of(model(x))
        finally:
            swin_mod.shifted_window_attention = SWA
    return out, with_grids(list(CAPTURED))


def main():
    global SWA
    os.makedirs(OUT, exist_ok=True)
    index = {'families': {}}
    for name, (build, onnx_name, input_name, size, prefix, grid, query) in FAMILIES.items():
        model = build()
        SWA = swin_mod.shifted_window_attention  # the builder may install its own (make_transformer_models' V2)
        if input_name is None:
            torch.onnx.export(model, torch.zeros(1, 3, size, size), os.path.join(OUT, onnx_name), opset_version=17,
                              input_names=['input'], output_names=['logits'])
            x32 = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))
            input_name = f'{name}_input.npy'
            np.save(os.path.join(OUT, input_name), x32.numpy().astype(np.float32))
        x = torch.from_numpy(np.load(os.path.join(OUT, input_name))).double()
        model = copy.deepcopy(model).double()
        with torch.no_grad():
            expected = logits_of(model(x))
        logits, layers = run(model, x)
        assert torch.allclose(logits, expected, atol=1e-9), f"{name}: the script's attention differs from the model's"
        order = torch.argsort(-logits[0])
        classes = [int(order[0]), int(order[2])]
        fam = {'model': onnx_name, 'input': input_name, 'classes': classes, 'prefix': prefix, 'grid': list(grid),
               'layers': len(layers), 'query': query, 'maps': {}}
        for how in ('mean', 'max', 'min'):
            m = rollout_map(layers, how, query, prefix, grid)
            f = f'{name}_rollout_{how}.npy'
            np.save(os.path.join(OUT, f), m.detach().numpy().astype(np.float64))
            fam['maps'][f'attention-rollout:{how}'] = f
        if prefix > 1:  # the distillation token's row as well
            f = f'{name}_rollout_mean_query1.npy'
            np.save(os.path.join(OUT, f), rollout_map(layers, 'mean', 1, prefix, grid).detach().numpy().astype(np.float64))
            fam['maps']['attention-rollout:mean:query1'] = f
        for target in ('logit', 'softmax'):
            for c in classes:
                out, layers = run(model, x)
                score = out[0, c] if target == 'logit' else torch.softmax(out, -1)[0, c]
                score.backward()
                m = grad_rollout_map(layers, query, prefix, grid)
                f = f'{name}_grad-rollout_{target}_{c}.npy'
                np.save(os.path.join(OUT, f), m.numpy().astype(np.float64))
                fam['maps'][f'grad-rollout:{target}:{c}'] = f
        if query != 'mean':
            for i, r in enumerate(raw_rows(layers, query, prefix, grid)):
                f = f'{name}_raw_{i}.npy'
                np.save(os.path.join(OUT, f), r.numpy().astype(np.float64))
                fam['maps'][f'raw:{i}'] = f
        index['families'][name] = fam
        print(name, len(layers), 'attention layers, classes', classes)
    with open(os.path.join(OUT, 'index.json'), 'w') as fh:
        json.dump(index, fh, indent=1, sort_keys=True)
        fh.write('\n')


if __name__ == '__main__':
    main()
