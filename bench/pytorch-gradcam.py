#!/usr/bin/python3
"""Time Grad-CAM in PyTorch on the CPU as pytorch-grad-cam computes it, for `npm run bench -- --editor-cpu`.

    /usr/bin/python3 bench/pytorch-gradcam.py ARCH THREADS [REPS] [MAX_SECONDS]
    /usr/bin/python3 bench/pytorch-gradcam.py --scorecam ARCH THREADS IMAGE [REPS] [MAX_SECONDS]

ARCH is a torchvision architecture (resnet50, resnet18, mobilenet_v2) with random weights (timing only), on a
1x3x224x224 input. One run is what pytorch-grad-cam's GradCAM(model, [target_layer])(input, targets) does: a
forward pass with a hook keeping the target layer's activations and gradients, backward from the class logit,
channel weights = the gradients' spatial mean, ReLU of the weighted sum, the map resized to the input and
scaled to 0..1. Prints one JSON line: median and fastest run in ms, and the threads torch used.

--scorecam times pytorch-grad-cam's own ScoreCAM (jacobgil/pytorch-grad-cam at commit 084273b, extracted as
scripts/README-cam-reference.md says into PGC_DIR, default /tmp/pgc, with ttach in TTACH_DIR, default /tmp/ttach;
nothing of it is copied into the project) with its default batch of 16 masked images, on the same weights as
scripts/bench-models.py exports for `npm run bench` (seed 0, BatchNorm statistics from one train-mode pass on
random images) and on IMAGE resized to 224x224 with the ImageNet mean and std. Its JSON line also holds the
median PyTorch forward pass (batch 1) on the same input, so its time can be read as a ratio too.
"""

import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


def target_layer(net: torch.nn.Module, arch: str) -> torch.nn.Module:
    return net.features[-1] if arch.startswith("mobilenet") else net.layer4[-1]


def bench_model(arch: str) -> torch.nn.Module:
    """The weights scripts/bench-models.py exports: the same seed and the same BatchNorm warm-up pass."""
    torch.manual_seed(0)
    net = getattr(torchvision.models, arch)(weights=None)
    net.train()
    with torch.no_grad():
        net(torch.randn(8, 3, 224, 224))
    return net.eval()


def timed_runs(f, reps: int, max_seconds: float) -> list:
    f()
    times = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start < max_seconds):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return times


def scorecam(argv: list) -> None:
    arch, threads, image = argv[0], int(argv[1]), argv[2]
    reps = int(argv[3]) if len(argv) > 3 else 3
    max_seconds = float(argv[4]) if len(argv) > 4 else 120.0
    for env, default in (("PGC_DIR", "/tmp/pgc"), ("TTACH_DIR", "/tmp/ttach")):
        sys.path.insert(0, os.environ.get(env, default))
    import numpy as np
    from PIL import Image
    import pytorch_grad_cam.score_cam
    from pytorch_grad_cam import ScoreCAM

    pytorch_grad_cam.score_cam.tqdm.tqdm = lambda it, **_: it  # quiet progress bars; nothing else changes
    torch.set_num_threads(threads)
    net = bench_model(arch)
    rgb = np.asarray(Image.open(image).convert("RGB").resize((224, 224), Image.BILINEAR), dtype=np.float32) / 255
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    x = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1)[None].copy())
    cam = ScoreCAM(model=net, target_layers=[target_layer(net, arch)])

    def forward() -> None:
        with torch.no_grad():
            net(x)

    fwd = timed_runs(forward, 7, 10.0)
    cpu = []

    def run() -> None:
        c = time.process_time()
        cam(input_tensor=x, targets=None)
        cpu.append((time.process_time() - c) * 1000)

    times = timed_runs(run, reps, max_seconds)
    cpu = cpu[1:]  # the untimed warm-up run
    print(json.dumps({"arch": arch, "method": "scorecam", "pytorchGradCam": "084273b", "batchSize": 16, "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "medianMs": statistics.median(times), "minMs": min(times), "cpuMs": statistics.median(cpu), "reps": len(times), "forwardMedianMs": statistics.median(fwd)}))


def main() -> None:
    if sys.argv[1] == "--scorecam":
        scorecam(sys.argv[2:])
        return
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
