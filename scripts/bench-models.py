#!/usr/bin/python3
"""Export random-weight ResNet-18, MobileNetV2, ResNet-50 and ViT-B/16 (torchvision architectures, 1x3x224x224, 1000
classes) to ONNX for `npm run bench`. The weights are random: the models are for timing only.

    /usr/bin/python3 scripts/bench-models.py OUT_DIR [resnet18 mobilenet_v2 ...]

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14); no network. The batch axis is
exported as dynamic ("N") so batch mode can stack images. BatchNorm running statistics come from
one train-mode pass over random images, so activations stay in a realistic range after the
eval-mode export folds BatchNorm into the convolutions.
"""

import os
import sys

import torch
import torchvision

torch.set_num_threads(2)

ARCHS = {
    "resnet18": lambda: torchvision.models.resnet18(weights=None),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(weights=None),
    "resnet50": lambda: torchvision.models.resnet50(weights=None),
    # 330 MB: the panel's memory check (`npm run bench -- --panel-memory`).
    "vit_b_16": lambda: torchvision.models.vit_b_16(weights=None),
}


def export(name: str, out_dir: str) -> str:
    torch.manual_seed(0)
    net = ARCHS[name]()
    net.train()
    with torch.no_grad():
        net(torch.randn(8, 3, 224, 224))
    net.eval()
    path = os.path.join(out_dir, f"{name}.onnx")
    tmp = path + ".tmp"
    torch.onnx.export(
        net, torch.randn(1, 3, 224, 224), tmp, opset_version=17,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=True,
    )
    os.replace(tmp, path)
    return path


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(ARCHS)
    os.makedirs(out_dir, exist_ok=True)
    for n in names:
        if n not in ARCHS:
            sys.exit(f"unknown architecture {n!r}; known: {', '.join(ARCHS)}")
        print(export(n, out_dir))


if __name__ == "__main__":
    main()
