"""Known-answer benchmark: verdicts on architectures whose trainability is known, at random weights.

    PYTHONPATH=. python benchmarks/zoo.py [--size 32] [--train 128] [--test 64] [--only NAME ...]

Prints one row per model: stages, fit and evaluate seconds, stage-1 R², verdict, ξ̂ (± error).
Each model carries its expectation, the reason and the source:

* ``trains``: known to train at this standard depth, so the verdict must not be ``untrainable``.
* ``fails``: known not to train, so the verdict must not be ``trainable``.

Inputs are crops of scikit-learn's two photographs (the ``photos`` dataset, offline) at a small size,
ImageNet-normalised as the CLI does for these models; the token models read Gaussian sequences.
Sizes are kept small (32 px, 128 + 64 inputs) so that the whole table runs on a laptop CPU in minutes;
the verdicts at this size are what the table checks, not the models' quality at 224 px.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from reprobe import CascadeProbe
from reprobe.analysis.first_stage import first_stage_r2
from reprobe.analysis.prediction import predict_trainability
from reprobe.data.registry import load_dataset
from reprobe.models.cnn import PlainCNN

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SelfAttention(nn.Module):
    """One multi-head self-attention layer, nothing around it (no skip, no MLP, no norm)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x):
        return self.attention(x, x, x, need_weights=False)[0]


class AttentionOnly(nn.Module):
    """Self-attention layers stacked with no skip connection and no MLP: token representations
    collapse to rank one doubly exponentially with depth (Dong, Cordonnier & Loukas 2021)."""

    def __init__(self, depth: int = 24, width: int = 32, heads: int = 4):
        super().__init__()
        self.layers = nn.Sequential(*(SelfAttention(width, heads) for _ in range(depth)))
        self.reprobe_stages = [f"layers.{i}" for i in range(depth)]  # no block has a skip: each layer is a stage

    def forward(self, x):
        return self.layers(x)


def _torchvision(name, **kw):
    def build():
        import torchvision
        return getattr(torchvision.models, name)(num_classes=10, **kw)
    return build


def _timm(name, size):
    def build():
        import timm
        try:
            return timm.create_model(name, pretrained=False, num_classes=10, img_size=size)
        except TypeError:
            return timm.create_model(name, pretrained=False, num_classes=10)
    return build


TRAINS_IMAGENET = "trains on ImageNet at this depth from random initialisation (the architecture's paper)"
#: name → (builder(size), expectation, reason and source, input kind)
ZOO = {
    "resnet18": (lambda s: _torchvision("resnet18")(), "trains", f"{TRAINS_IMAGENET}: He et al. 2016", "image"),
    "resnet50": (lambda s: _torchvision("resnet50")(), "trains", f"{TRAINS_IMAGENET}: He et al. 2016", "image"),
    "vgg11_bn": (lambda s: _torchvision("vgg11_bn")(), "trains", f"{TRAINS_IMAGENET} with BatchNorm: Ioffe & Szegedy 2015", "image"),
    "densenet121": (lambda s: _torchvision("densenet121")(), "trains", f"{TRAINS_IMAGENET}: Huang et al. 2017", "image"),
    "mobilenet_v3_small": (lambda s: _torchvision("mobilenet_v3_small")(), "trains", f"{TRAINS_IMAGENET}: Howard et al. 2019", "image"),
    "shufflenet_v2_x0_5": (lambda s: _torchvision("shufflenet_v2_x0_5")(), "trains", f"{TRAINS_IMAGENET}: Ma et al. 2018", "image"),
    "efficientnet_b0": (lambda s: _torchvision("efficientnet_b0")(), "trains", f"{TRAINS_IMAGENET}: Tan & Le 2019", "image"),
    "convnext_tiny": (lambda s: _torchvision("convnext_tiny")(), "trains", f"{TRAINS_IMAGENET}: Liu et al. 2022", "image"),
    "vit_tiny": (lambda s: _timm("vit_tiny_patch16_224", s)(), "trains", f"{TRAINS_IMAGENET} (DeiT recipe): Touvron et al. 2021", "image"),
    "swin_tiny": (lambda s: _timm("swin_tiny_patch4_window7_224", max(s, 64))(), "trains", f"{TRAINS_IMAGENET}: Liu et al. 2021", "image64"),
    "tanh_cnn_ordered_d50": (lambda s: PlainCNN(3, 10, 50, 16, 3, 0.5, 0.05, "tanh", 0), "fails",
                             "plain tanh CNN, depth 50, ordered phase (σ_w² 0.5): signals forget the input within a few "
                             "correlation lengths, nets far deeper than 6ξ do not train (Schoenholz et al. 2017; Xiao et al. 2018)", "image"),
    "tanh_cnn_chaotic_d50": (lambda s: PlainCNN(3, 10, 50, 16, 3, 4.0, 0.05, "tanh", 0), "fails",
                             "plain tanh CNN, depth 50, chaotic phase (σ_w² 4.0): as above (Schoenholz et al. 2017; Xiao et al. 2018)", "image"),
    "attention_only_d24": (lambda s: AttentionOnly(24), "fails",
                           "24 self-attention layers without skips or MLPs: rank collapse (Dong, Cordonnier & Loukas 2021)", "tokens"),
}


def _inputs(kind, size, train, test):
    if kind == "tokens":  # a flattened (16·32)-feature decoder needs more rows than features: 4× the images
        g = torch.Generator().manual_seed(0)
        x = torch.randn(4 * train + test, 16, 32, generator=g)
        return x[:4 * train], x[4 * train:]
    size = max(size, 64) if kind == "image64" else size
    bundle = load_dataset("photos", size=size, count=train + test + 8, test_fraction=0.4)
    x = torch.stack([bundle.train[i][0] for i in range(len(bundle.train))][:train]
                    + [bundle.test[i][0] for i in range(len(bundle.test))][:test])
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return x[:train], x[train:]


def run_one(name, size, train, test):
    build, expect, reason, kind = ZOO[name]
    torch.manual_seed(0)
    model = build(size).eval()
    xtr, xte = _inputs(kind, size, train, test)
    with CascadeProbe(model, samples=len(xte), progress=False) as probe:
        result = probe.fit(xtr).evaluate(xte)
    pred = predict_trainability(result)
    ok = pred.verdict != ("untrainable" if expect == "trains" else "trainable")
    return dict(model=name, stages=result.depth, fit=result.timings.get("fit"), evaluate=result.timings.get("evaluate"),
                r2=first_stage_r2(result.metrics, result.saturation), verdict=pred.verdict, xi=pred.xi, xi_err=pred.xi_err,
                bound=pred.xi_is_bound, expect=expect, ok=ok, why=pred.reason, source=reason)


def _row(r):
    xi = "—" if r["xi"] is None else (f"≥{r['xi']:.3g}" if r["bound"] else f"{r['xi']:.3g} ± {r['xi_err'] or 0:.2g}")
    r2 = "—" if r["r2"] is None else f"{r['r2']:.3f}"
    return (f"| {r['model']} | {r['stages']} | {r['fit']:.1f} | {r['evaluate']:.1f} | {r2} | {r['verdict']} | {xi} "
            f"| {r['expect']} | {'ok' if r['ok'] else 'WRONG'} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--train", type=int, default=128)
    ap.add_argument("--test", type=int, default=64)
    ap.add_argument("--only", nargs="*", choices=sorted(ZOO), help="models to run (default: all)")
    args = ap.parse_args(argv)
    print("| model | stages | fit s | evaluate s | stage-1 R² | verdict | ξ̂ | expected | |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for name in args.only or list(ZOO):
        t0 = time.perf_counter()
        try:
            r = run_one(name, args.size, args.train, args.test)
        except Exception as e:  # one model's failure is a row, not the end of the table
            print(f"| {name} | error: {type(e).__name__}: {str(e)[:200]} |", flush=True)
            continue
        rows.append(r)
        print(_row(r), flush=True)
    print()
    for r in rows:
        print(f"- {r['model']} ({r['expect']}): {r['source']}. Verdict: {r['why']}")
    undecidable = [r["model"] for r in rows if r["verdict"] == "undecidable"]
    print(f"\n{sum(r['ok'] for r in rows)}/{len(rows)} as expected; undecidable: {len(undecidable)} {undecidable}")


if __name__ == "__main__":
    main()
