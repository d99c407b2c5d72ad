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
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.models.swin_transformer as swin_mod
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'attention-ref')
CAPTURED = []  # per attention layer: dict(attn=tensor with retain_grad, kind=..., ...)


def vit_attention(mha, x):
    """torchvision's MultiheadAttention(x, x, x) written out: softmax(q kᵀ / √d) v, keeping A."""
    n, b, e = x.shape[1], x.shape[0], x.shape[2]
    h = mha.num_heads
    d = e // h
    qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
    q, k, v = qkv.chunk(3, dim=-1)
    q, k, v = (t.reshape(b, n, h, d).transpose(1, 2) for t in (q, k, v))
    a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    a.retain_grad()
    CAPTURED.append({'attn': a, 'kind': 'global'})
    o = (a @ v).transpose(1, 2).reshape(b, n, e)
    return F.linear(o, mha.out_proj.weight, mha.out_proj.bias)


def patch_vit(model):
    for blk in model.encoder.layers:
        mha = blk.self_attention

        def fwd(query, key, value, need_weights=False, _m=mha):
            return vit_attention(_m, query), None
        mha.forward = fwd


ORIGINAL_SWA = swin_mod.shifted_window_attention


def swin_attention(input, qkv_weight, proj_weight, relative_position_bias, window_size, num_heads, shift_size,
                   attention_dropout=0.0, dropout=0.0, qkv_bias=None, proj_bias=None, logit_scale=None):
    """torchvision 0.14's shifted_window_attention (Swin V1 path), keeping A and the position of every token."""
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
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (C // num_heads) ** -0.5
    attn = q.matmul(k.transpose(-2, -1)) + relative_position_bias
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
    attn.retain_grad()
    CAPTURED.append({'attn': attn, 'kind': 'windowed', 'pos': pos, 'grid': (H, W)})
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
    if layer['kind'] == 'global':
        return fuse(a[0], how)
    return torch.stack([fuse(a[g], how) for g in range(a.shape[0])])


def grad_rollout_map(layers, query, prefix, grid):
    mats = []
    for layer in layers:
        a, g = layer['attn'].detach(), layer['attn'].grad
        cam = (g * a).clamp(min=0)
        bar = cam[0].mean(0) if layer['kind'] == 'global' else cam.mean(1)
        d = dense(layer, bar)
        mats.append(torch.eye(d.shape[0], dtype=d.dtype) + d)
    return final_row(product(layers, mats), query, prefix, grid)


def final_row(r, query, prefix, grid):
    row = r.mean(0) if query == 'mean' else r[query]
    return row[prefix:].reshape(grid)


def raw_rows(layers, query, prefix, grid):
    """Each global layer's attention A[h, query, patch tokens] → [heads, gh, gw]."""
    return [l['attn'].detach()[0, :, query, prefix:].reshape(-1, *grid) for l in layers]


def make_vit():
    torch.manual_seed(0)
    return VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=3, hidden_dim=24, mlp_dim=48, num_classes=10)


def make_swin():
    torch.manual_seed(1)
    # 64×64 input, 4×4 patches: stage 1 a 16×16 grid in 4×4 windows of 4×4 tokens, stage 2 an 8×8 grid in
    # 2×2 windows; the second block of each stage is shifted by 2.
    return SwinTransformer(patch_size=[4, 4], embed_dim=12, depths=[2, 2], num_heads=[2, 3], window_size=[4, 4],
                           stochastic_depth_prob=0.0, num_classes=10)


FAMILIES = {
    # name: (builder, input size, prefix tokens, patch grid, query)
    'vit': (make_vit, 32, 1, (4, 4), 0),
    'swin': (make_swin, 64, 0, (16, 16), 'mean'),
}


def export(model, size, path):
    x = torch.zeros(1, 3, size, size)
    torch.onnx.export(model.float(), x, path, opset_version=17, input_names=['input'], output_names=['logits'])


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {'families': {}}
    for name, (build, size, prefix, grid, query) in FAMILIES.items():
        model = build().eval()
        onnx_name = f'{name}.onnx'
        swin_mod.shifted_window_attention = ORIGINAL_SWA
        export(model, size, os.path.join(OUT, onnx_name))
        gen = torch.Generator().manual_seed(7)
        x32 = torch.randn(1, 3, size, size, generator=gen)
        np.save(os.path.join(OUT, f'{name}_input.npy'), x32.numpy().astype(np.float32))
        model = model.double()
        x = x32.double()
        with torch.no_grad():
            expected = model(x)
        if name == 'vit':
            patch_vit(model)
        else:
            swin_mod.shifted_window_attention = swin_attention
        CAPTURED.clear()
        logits = model(x)
        assert torch.allclose(logits, expected, atol=1e-10), f'{name}: the script\'s attention differs from torchvision\'s'
        layers = list(CAPTURED)
        for i in range(1, len(layers)):
            layers[i]['grid_prev'] = layers[i - 1].get('grid')
        classes = [int(logits[0].argmax()), (int(logits[0].argmax()) + 3) % 10]
        fam = {'model': onnx_name, 'input': f'{name}_input.npy', 'classes': classes, 'prefix': prefix, 'grid': list(grid),
               'layers': len(layers), 'query': query, 'maps': {}}
        for how in ('mean', 'max', 'min'):
            m = rollout_map(layers, how, query, prefix, grid)
            f = f'{name}_rollout_{how}.npy'
            np.save(os.path.join(OUT, f), m.numpy().astype(np.float64))
            fam['maps'][f'attention-rollout:{how}'] = f
        for target in ('logit', 'softmax'):
            for c in classes:
                for l in layers:
                    l['attn'].grad = None
                CAPTURED.clear()
                out = model(x)
                score = out[0, c] if target == 'logit' else torch.softmax(out, -1)[0, c]
                layers = list(CAPTURED)
                for i in range(1, len(layers)):
                    layers[i]['grid_prev'] = layers[i - 1].get('grid')
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
    swin_mod.shifted_window_attention = ORIGINAL_SWA
    with open(os.path.join(OUT, 'index.json'), 'w') as fh:
        json.dump(index, fh, indent=1, sort_keys=True)
        fh.write('\n')


if __name__ == '__main__':
    main()
