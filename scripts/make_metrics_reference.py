#!/usr/bin/python3
"""Reference scores of ROAD and the confidence change from pytorch-grad-cam's metric classes, on the
reference families of scripts/make_reference.py (same modules and seeds as the committed
test/fixtures/ref/<family>_op*.onnx), for test/unit/metrics-reference.test.ts.

pytorch-grad-cam is not vendored: extract it (and ttach) from the git mirrors as scripts/make_cam_reference.py
says, then

    PGC_DIR=/tmp/pgc TTACH_DIR=/tmp/ttach /usr/bin/python3 scripts/make_metrics_reference.py

Needs Debian's python3-torch, python3-scipy, python3-opencv. A few seconds.

Per family and class: a deterministic smooth map at input resolution (map_c<k>.npy, float32, 0..1), and
pytorch-grad-cam's scores with ClassifierOutputSoftmaxTarget (the class probability):
- ROAD: RemoveMostRelevantFirst / RemoveLeastRelevantFirst at percentiles 25, 50, 75 with
  NoisyLinearImputer(noise=0) (the noise is random, so it is switched off to compare), through
  PerturbationConfidenceMetric: probability after imputation minus before;
- CamMultImageConfidenceChange: probability on input * map minus before (DropInConfidence is max(-that, 0)).
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

import make_reference as ref  # noqa: E402
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange  # noqa: E402
from pytorch_grad_cam.metrics.perturbation_confidence import (PerturbationConfidenceMetric,  # noqa: E402
                                                              RemoveLeastRelevantFirst, RemoveMostRelevantFirst)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget  # noqa: E402

PGC_COMMIT = "084273b"
OUT = os.path.join(ROOT, "test", "fixtures", "metrics-ref")
REF_DIR = os.path.join(ROOT, "test", "fixtures", "ref")
PERCENTILES = [25, 50, 75]
FAMILIES = ["resnet", "shufflenet"]
torch.set_num_threads(2)


class Logits(torch.nn.Module):
    """The reference nets return (logits, features); the metrics want the logits alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def smooth_map(k):
    """A smooth map with one off-centre bump per class, min-max normalised, float32."""
    yy, xx = np.mgrid[0:ref.H, 0:ref.W].astype(np.float64)
    cy, cx = 6 + 2 * (k % 5), 16 - (k % 7)
    m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40.0) + 0.3 * np.sin(0.7 * xx + 0.3 * k) * np.cos(0.5 * yy)
    m = (m - m.min()) / (m.max() - m.min())
    return m.astype(np.float32)


def main():
    index = json.load(open(os.path.join(REF_DIR, "index.json")))
    os.makedirs(OUT, exist_ok=True)
    result = {"generator": "scripts/make_metrics_reference.py", "pytorch_grad_cam": PGC_COMMIT, "torch": torch.__version__,
              "percentiles": PERCENTILES, "target": "ClassifierOutputSoftmaxTarget", "families": {}}
    names = [f[0] for f in ref.FAMILIES]
    for family in FAMILIES:
        fi = names.index(family)
        _, cls, _, extra = ref.FAMILIES[fi]
        torch.manual_seed(1000 + fi)
        net = cls()
        ref.init_model(net, 1000 + fi, extra)
        fam = index["families"][family]
        x = torch.from_numpy(np.load(os.path.join(REF_DIR, fam["input"])))
        model = Logits(net).eval()
        with torch.no_grad():
            lg = model(x).numpy()
        assert np.abs(lg - np.load(os.path.join(REF_DIR, fam["logits"]))).max() < 1e-5, f"{family}: weights differ"
        entry = {"model": f"{family}_op13.onnx", "input": fam["input"], "classes": {}}
        for k in fam["classes"]:
            cam = smooth_map(k)
            np.save(os.path.join(OUT, f"{family}_map_c{k}.npy"), cam)
            targets = [ClassifierOutputSoftmaxTarget(k)]
            cams = cam[None]
            with torch.no_grad():
                before = float(torch.softmax(model(x), -1)[0, k])
            morf, lerf = [], []
            for p in PERCENTILES:
                morf.append(float(PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, NoisyLinearImputer(noise=0)))(x, cams, targets, model)[0]))
                lerf.append(float(PerturbationConfidenceMetric(RemoveLeastRelevantFirst(p, NoisyLinearImputer(noise=0)))(x, cams, targets, model)[0]))
            conf = float(CamMultImageConfidenceChange()(x, cams, targets, model)[0])
            entry["classes"][str(k)] = {"map": f"{family}_map_c{k}.npy", "before": before,
                                        "road_morf_diff": morf, "road_lerf_diff": lerf, "confidence_diff": conf}
        result["families"][family] = entry
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
