"""Zero-cost proxies against values computed by hand on tiny nets."""

import math

import pytest
import torch
import torch.nn as nn

from reprobe.models import build_model
from reprobe.predictors import score
from reprobe.predictors.jacob_cov import jacob_cov_score
from reprobe.predictors.naswot import naswot_kernel, naswot_score
from reprobe.predictors.synflow import log10_synflow


def _two_layer(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False))


def test_synflow_of_two_layer_linear_net_by_hand():
    net = _two_layer()
    w1, w2 = net[0].weight.detach().abs().double(), net[1].weight.detach().abs().double()
    r = float(torch.ones(2, dtype=torch.float64) @ w2 @ w1 @ torch.ones(4, dtype=torch.float64))  # R = 1ᵀ|W2||W1|1
    # ∂R/∂|W1|_ij = (1ᵀ|W2|)_i, ∂R/∂|W2|_ki = (|W1|1)_i: Σ θ⊙∂R/∂θ = R + R.
    by_hand = float((w1 * (torch.ones(2, dtype=torch.float64) @ w2)[:, None]).sum()
                    + (w2 * (w1 @ torch.ones(4, dtype=torch.float64))[None, :]).sum())
    assert math.isclose(by_hand, 2 * r, rel_tol=1e-12)
    log10, reason = log10_synflow(net, (4,))
    assert reason == ""
    assert math.isclose(10 ** log10, 2 * r, rel_tol=1e-9)
    s = score(net, torch.randn(8, 4), "synflow")["synflow"]
    assert math.isclose(s.score, math.log10(2 * r), rel_tol=1e-9) and s.direction == "higher"


def test_synflow_rescaled_backward_matches_plain_float64_on_a_deeper_relu_net():
    torch.manual_seed(1)
    net = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(5, 5), nn.ReLU())], nn.Linear(5, 2))
    plain = __import__("copy").deepcopy(net).double()
    with torch.no_grad():
        for p in plain.parameters():
            p.abs_()
    out = plain(torch.ones(1, 5, dtype=torch.float64)).sum()
    ws = [m.weight for m in plain if isinstance(m, nn.Linear)]
    grads = torch.autograd.grad(out, ws)
    expected = sum(float((w.detach() * g).sum()) for w, g in zip(ws, grads))
    log10, _ = log10_synflow(net, (5,))
    assert math.isclose(10 ** log10, expected, rel_tol=1e-9)


def test_synflow_of_a_depth_100_tanh_mlp_is_finite_both_ways():
    for sw in (1.0, 4.0):
        m = build_model("mlp", (1, 28, 28), 10, depth=100, width=64, sigma_w2=sw, sigma_b2=0.05, seed=0)
        s = score(m, torch.rand(2, 1, 28, 28), "synflow")["synflow"]
        assert s.score is not None and math.isfinite(s.score)


def _deep_relu(depth, std, width=32):
    torch.manual_seed(0)
    layers = [m for _ in range(depth) for m in (nn.Linear(width, width, bias=False), nn.ReLU())]
    net = nn.Sequential(*layers, nn.Linear(width, 2, bias=False))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, std / math.sqrt(width))
    return net


def test_synflow_of_a_deep_relu_net_equals_eulers_identity_in_log_space():
    # Bias-free ReLU net on |θ|, all-ones input: R is homogeneous of degree 1 in each of its n layers,
    # so Σ θ⊙∂R/∂θ = n·R. R ≈ 1e250 here; a plain float64 product of gradients would overflow.
    net = _deep_relu(250, 2.0)
    ws = [m.weight.detach().abs().double() for m in net if isinstance(m, nn.Linear)]
    v, log10_r = torch.ones(32, dtype=torch.float64), 0.0
    for w in ws:
        v = w @ v
        top = float(v.max())
        v, log10_r = v / top, log10_r + math.log10(top)
    log10_r += math.log10(float(v.sum()))
    assert log10_r > 200
    s = score(net, torch.rand(2, 32), "synflow")["synflow"]
    assert math.isclose(s.score, math.log10(len(ws)) + log10_r, rel_tol=1e-9)


def test_synflow_says_why_when_the_forward_overflows():
    s = score(_deep_relu(400, 4.0), torch.rand(2, 32), "synflow")["synflow"]
    assert s.score is None and "overflows" in s.reason


def test_naswot_kernel_on_a_hand_made_pattern():
    codes = torch.tensor([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 1, 1]], dtype=torch.bool)
    k = naswot_kernel(codes)
    # agreements: rows 0/1 agree at units 0,3 → 2; rows 0/2 at 1,2,3 → 3; rows 1/2 at 3 → 1
    expected = torch.tensor([[4, 2, 3], [2, 4, 1], [3, 1, 4]], dtype=torch.float64)
    assert torch.equal(k, expected)
    det = 4 * (16 - 1) - 2 * (8 - 3) + 3 * (2 - 12)  # = 20
    assert math.isclose(naswot_score(k), math.log(det), rel_tol=1e-12)
    assert naswot_score(naswot_kernel(torch.tensor([[1, 0], [1, 0]]))) == -math.inf  # equal patterns


def test_naswot_reads_relu_patterns_of_a_net():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
    s = score(net, x, "naswot")["naswot"]
    k = naswot_kernel(x > 0)
    assert math.isclose(s.score, naswot_score(k), rel_tol=1e-12)
    assert score(nn.Sequential(nn.Linear(2, 2)), x, "naswot")["naswot"].applicable is False


def test_jacob_cov_score_by_hand():
    # orthogonal centred rows: correlation matrix = I, λ = 1, 1
    j = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    corr = torch.corrcoef(j.double())
    lam = torch.linalg.eigvalsh(corr)
    expected = -float((torch.log(lam + 1e-5) + 1 / (lam + 1e-5)).sum())
    assert math.isclose(jacob_cov_score(j), expected, rel_tol=1e-12)
    # identical rows are the worst case: much lower score
    assert jacob_cov_score(torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])) < jacob_cov_score(j) - 1e4


def test_grad_norm_and_snip_by_hand():
    torch.manual_seed(0)
    net = _two_layer()
    x, y = torch.randn(5, 4), torch.randint(0, 2, (5,))
    loss = nn.functional.cross_entropy(net(x), y)
    ws = [net[0].weight, net[1].weight]
    gs = torch.autograd.grad(loss, ws)
    res = score(net, (x, y), ["grad_norm", "snip"])
    assert math.isclose(res["grad_norm"].score, sum(float(g.norm()) for g in gs), rel_tol=1e-5)
    assert math.isclose(res["snip"].score, sum(float((w.detach() * g).abs().sum()) for w, g in zip(ws, gs)), rel_tol=1e-5)
    assert all(w.grad is None for w in ws)
    no_labels = score(net, x, ["grad_norm"])["grad_norm"]
    assert not no_labels.applicable and no_labels.score is None and "labels" in no_labels.reason


def test_params_counts_parameters():
    net = _two_layer()
    assert score(net, None, "params")["params"].score == 12 + 6


def test_synflow_of_a_saturated_tanh_mlp_is_its_class_layers_weight_sum():
    """|θ| and an all-ones input saturate tanh to exactly 1.0 in float64: 1 − tanh² is exactly 0, no
    gradient passes, and log10 synflow is log10 Σ|W_head| (the class layer's inputs are all 1)."""
    from reprobe.models.mlp import mlp

    scores = []
    for sw in (1.0, 1.76, 3.0):
        m = mlp(depth=30, width=300, sigma_w2=sw, sigma_b2=0.05, seed=0)
        head = float(m[-1].weight.detach().double().abs().sum())
        s = score(m, torch.rand(2, 1, 28, 28), "synflow")["synflow"]
        assert s.score == pytest.approx(math.log10(head), abs=1e-5)
        scores.append(s.score)
    assert scores == sorted(scores)  # so it only rises with σ_w (the class layer's weight scale)
    h = torch.ones(1, 784, dtype=torch.float64)  # at σ_w² = 3 every hidden layer saturates exactly
    for layer in [l for l in m if isinstance(l, nn.Linear)][:-1]:
        h = torch.tanh(h @ layer.weight.detach().double().abs().T + layer.bias.detach().double().abs())
        assert bool((h == 1.0).all()) and bool((1 - h * h == 0).all())
    assert s.score == pytest.approx(math.log10(head), abs=1e-12)
