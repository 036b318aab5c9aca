"""Direct tests of the closed-form (ridge) fit in reprobe.probe.ridge."""

import math

import pytest
import torch

from reprobe.probe import ridge as ridge_mod
from reprobe.probe.ridge import RidgeStatistics, ridge_solution


def _stats(x, y, batches=1):
    st = RidgeStatistics()
    for xb, yb in zip(x.chunk(batches), y.chunk(batches)):
        st.add(xb, yb)
    return st


def _problem(n=400, d=6, k=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(k, d, generator=g, dtype=dtype)
    b = torch.randn(k, generator=g, dtype=dtype)
    return x, w, b, x @ w.T + b


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_statistics_over_batches_equal_one_big_batch(dtype, tol):
    x, _, _, y = _problem(n=300, dtype=dtype)
    one = _stats(x, y)
    many = _stats(x, y, batches=7)
    many.add(x[:0], y[:0])  # an empty batch changes nothing
    assert one.rows == many.rows == 300
    assert one.gram.shape == (7, 7) and one.cross.shape == (7, 3)
    torch.testing.assert_close(many.gram, one.gram, rtol=tol, atol=tol * 300)
    torch.testing.assert_close(many.cross, one.cross, rtol=tol, atol=tol * 300)
    a = torch.cat([x, torch.ones(300, 1, dtype=dtype)], 1)
    torch.testing.assert_close(one.gram, a.T @ a, rtol=tol, atol=tol * 300)
    assert one.gram[-1, -1].item() == pytest.approx(300)


def test_statistics_start_empty():
    st = RidgeStatistics()
    st.add(torch.zeros(0, 3), torch.zeros(0, 2))
    assert st.gram is None and st.cross is None and st.rows == 0


@pytest.mark.parametrize("ridge", [0.0, 1e-12])
def test_vanishing_ridge_recovers_a_known_linear_map_and_bias(ridge):
    x, w, b, y = _problem()
    st = _stats(x, y, batches=4)
    weight, bias = ridge_solution(st.gram, st.cross, ridge)
    assert weight.shape == (3, 6) and bias.shape == (3,)
    torch.testing.assert_close(weight, w, rtol=0, atol=1e-4)
    torch.testing.assert_close(bias, b, rtol=0, atol=1e-4)


@pytest.mark.parametrize("ridge", [1e-3, 0.1, 1.0])  # float64 and float32 solve paths
def test_ridge_is_relative_to_the_mean_gram_diagonal(ridge):
    x, _, _, y = _problem(n=200, d=8, dtype=torch.float64)
    y = y + 0.3 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    st1 = _stats(x, y)
    st100 = _stats(100 * x, y)
    w1, b1 = ridge_solution(st1.gram, st1.cross, ridge)
    w100, b100 = ridge_solution(st100.gram, st100.cross, ridge)
    p1 = x @ w1.T.to(x.dtype) + b1.to(x.dtype)
    p100 = (100 * x) @ w100.T.to(x.dtype) + b100.to(x.dtype)
    torch.testing.assert_close(p100, p1, rtol=0, atol=1e-4 * float(p1.abs().max()))
    if ridge >= 0.1:  # the ridge really acts: predictions differ from the unregularised fit
        w0, b0 = ridge_solution(st1.gram, st1.cross, 0.0)
        assert float((x @ w0.T + b0 - p1).abs().max()) > 1e-3


@pytest.mark.parametrize("ridge", [0.0, 1e-6, 0.1])
def test_singular_gram_gives_a_finite_answer(ridge):
    g = torch.Generator().manual_seed(2)
    base = torch.randn(100, 3, generator=g, dtype=torch.float64)
    # duplicate column, constant column (collinear with the bias), dead (all-zero) column
    x = torch.cat([base, base[:, :1], torch.full((100, 1), 2.5, dtype=torch.float64),
                   torch.zeros(100, 1, dtype=torch.float64)], 1)
    y = base @ torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).T + 0.7
    st = _stats(x, y)
    assert torch.linalg.matrix_rank(st.gram).item() < st.gram.shape[0]
    weight, bias = ridge_solution(st.gram, st.cross, ridge)
    assert torch.isfinite(weight).all() and torch.isfinite(bias).all()
    pred = x @ weight.T.to(x.dtype) + bias.to(x.dtype)
    if ridge < 1e-3:  # (near) least squares: the noiseless targets are fitted
        torch.testing.assert_close(pred, y, rtol=0, atol=1e-4)


def test_singular_gram_in_float32_statistics_is_finite():
    x = torch.ones(50, 4)  # every column constant: rank 1 with the bias
    y = torch.randn(50, 2)
    st = _stats(x, y)
    weight, bias = ridge_solution(st.gram, st.cross, 0.0)
    assert torch.isfinite(weight).all() and torch.isfinite(bias).all()


def test_float32_and_float64_solve_paths_agree(monkeypatch):
    x, _, _, y = _problem(n=500, d=10, k=4, dtype=torch.float32)
    st = _stats(x, y, batches=5)
    ridge = 0.05
    assert ridge >= ridge_mod.FLOAT32_SOLVE_MIN_RIDGE
    w32, b32 = ridge_solution(st.gram, st.cross, ridge)
    assert w32.dtype == torch.float32
    monkeypatch.setattr(ridge_mod, "FLOAT32_SOLVE_MIN_RIDGE", 10.0)
    w64, b64 = ridge_mod.ridge_solution(st.gram, st.cross, ridge)
    assert w64.dtype == torch.float64
    torch.testing.assert_close(w32.double(), w64, rtol=0, atol=1e-4)
    torch.testing.assert_close(b32.double(), b64, rtol=0, atol=1e-4)


def test_small_ridges_solve_in_float64():
    x, _, _, y = _problem(n=50, d=3, dtype=torch.float32)
    st = _stats(x, y)
    w, b = ridge_solution(st.gram, st.cross, 1e-4)
    assert w.dtype == torch.float64 and b.dtype == torch.float64
    assert st.gram.dtype == torch.float32  # the statistics are not changed in place


def test_overflowed_statistics_give_nan_not_a_crash():
    x, _, _, y = _problem(d=4, k=2)
    st = _stats(x.float(), y.float())
    gram = st.gram.clone()
    gram[0, 0] = float("inf")
    w, b = ridge_solution(gram, st.cross, 0.0)
    assert torch.isnan(w).all() and torch.isnan(b).all()


def test_min_norm_fallback_survives_an_eigendecomposition_that_does_not_converge(monkeypatch):
    x, w_true, b_true, y = _problem(d=4, k=2)
    st = _stats(x, y)
    real_pinv = torch.linalg.pinv

    def failing_eigh_pinv(a, *args, hermitian=False, **kw):
        if hermitian:
            raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")
        return real_pinv(a, *args, **kw)

    monkeypatch.setattr(torch.linalg, "pinv", failing_eigh_pinv)
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda g: (g, torch.tensor(1)))  # force the fallback
    w, b = ridge_solution(st.gram, st.cross, 0.0)
    assert torch.allclose(w, w_true, atol=1e-6) and torch.allclose(b, b_true, atol=1e-6)


def test_an_exploding_relu_net_is_probed_without_a_crash_and_undecidable():
    """σ_w² = 1e9: activations grow ~2e4× per layer; the Gram overflows float32 at stage 8."""
    from reprobe.experiments.run import run_named

    result, _, _ = run_named(model="mlp", model_options={"activation": "relu", "sigma_w2": 1e9, "depth": 8},
                             samples=16, train_samples=256, progress=False)
    assert result.metrics["relative_entropy"][-1] is None or not math.isfinite(result.metrics["relative_entropy"][-1])
    assert result.prediction["verdict"] == "undecidable" and "not finite" in result.prediction["reason"]
