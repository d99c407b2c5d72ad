#!/usr/bin/python3
"""Time Grad-CAM in PyTorch on the CPU as pytorch-grad-cam computes it, for `npm run bench -- --editor-cpu`.

    /usr/bin/python3 bench/pytorch-gradcam.py ARCH THREADS [REPS] [MAX_SECONDS]

ARCH is a torchvision architecture (resnet50, resnet18, mobilenet_v2) with random weights (timing only), on a
1x3x224x224 input. One run is what pytorch-grad-cam's GradCAM(model, [target_layer])(input, targets) does: a
forward pass with a hook keeping the target layer's activations and gradients, backward from the class logit,
channel weights = the gradients' spatial mean, ReLU of the weighted sum, the map resized to the input and
scaled to 0..1. Prints one JSON line: median and fastest run in ms, and the threads torch used.
"""

import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def target_layer(net: torch.nn.Module, arch: str) -> torch.nn.Module:
    return net.features[-1] if arch.startswith("mobilenet") else net.layer4[-1]


def main() -> None:
    arch = sys.argv[1]
    torch.set_num_threads(int(sys.argv[2]))
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    max_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    torch.manual_seed(0)
    net = getattr(torchvision.models, arch)(weights=None).eval()
    layer = target_layer(net, arch)
    kept = {}

    def forward_hook(_m, _i, out):
        kept["act"] = out
        out.register_hook(lambda g: kept.__setitem__("grad", g))

    layer.register_forward_hook(forward_hook)
    x = torch.randn(1, 3, 224, 224)

    def gradcam() -> torch.Tensor:
        net.zero_grad()
        logits = net(x)
        c = int(logits[0].argmax())
        logits[0, c].backward()
        weights = kept["grad"].mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * kept["act"]).sum(dim=1, keepdim=True)).detach()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        cam = cam - cam.min()
        return cam / (cam.max() + 1e-7)

    gradcam()
    times = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start < max_seconds):
        t = time.perf_counter()
        gradcam()
        times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"arch": arch, "threads": torch.get_num_threads(), "torch": torch.__version__, "medianMs": statistics.median(times), "minMs": min(times), "reps": len(times)}))


if __name__ == "__main__":
    main()
