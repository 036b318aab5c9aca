"""Mean-field reference theory (reprobe.theory) and the ``reprobe theory`` CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reprobe.core.errors import ReprobeError
from reprobe import theory as mf


# --- reference numbers (shared SCIENCE.md, "Reference numbers") --------------------------------

TANH_CRITICAL = [(0.0, 1.000), (0.01, 1.424), (0.05, 1.761), (0.1, 1.986), (0.2, 2.285), (0.5, 2.843)]
TANH_Q_STAR = [(1.00, 0.194), (1.20, 0.270), (1.50, 0.418), (1.76, 0.570), (2.00, 0.722), (2.50, 1.064),
               (3.00, 1.428), (4.00, 2.196)]
TANH_XI = [(1.00, 3.63), (1.20, 5.94), (1.50, 15.8), (2.00, 25.2), (2.50, 11.8), (3.00, 9.05), (4.00, 6.98)]


def test_critical_line_tanh_matches_reference():
    got = mf.critical_line("tanh", [sb for sb, _ in TANH_CRITICAL])
    assert isinstance(got, np.ndarray) and got.shape == (len(TANH_CRITICAL),)
    for (sb, ref), sw in zip(TANH_CRITICAL, got):
        assert sw == pytest.approx(ref, abs=0.002), sb
        assert mf.chi1("tanh", sw, sb) == pytest.approx(1.0, abs=1e-5)


def test_relu_critical_and_degenerate_q():
    assert mf.critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, abs=0.002)
    # σ_b² = 0: the variance collapses for σ_w² < 2, yet χ₁ = σ_w²/2 regardless.
    assert mf.q_star("relu", 1.5, 0.0) == 0.0
    assert mf.chi1("relu", 1.5, 0.0) == pytest.approx(0.75)
    assert mf.q_star("relu", 1.0, 0.1) == pytest.approx(0.2)  # σ_b² / (1 − σ_w²/2)
    p = mf.mean_field("relu", 1.5, 0.0)
    assert p.phase == "ordered" and p.c_star == 1.0 and p.xi_c == pytest.approx(-1 / math.log(0.75))
    crit = mf.mean_field("relu", 2.0, 0.0)
    assert crit.phase == "critical" and math.isinf(crit.xi_c)
    assert math.isinf(mf.q_star("relu", 2.5, 0.1))
    with pytest.raises(ReprobeError, match="diverges"):
        mf.mean_field("relu", 2.5, 0.1)


@pytest.mark.parametrize("sw,ref", TANH_Q_STAR)
def test_tanh_q_star(sw, ref):
    q = mf.q_star("tanh", sw, 0.05)
    assert abs(q - ref) <= max(0.002, 0.01 * ref)


@pytest.mark.parametrize("sw,ref", TANH_XI)
def test_tanh_xi_c(sw, ref):
    p = mf.mean_field("tanh", sw, 0.05)
    assert p.xi_c == pytest.approx(ref, rel=0.02)
    assert mf.xi_c("tanh", sw, 0.05) == p.xi_c
    assert mf.trainable_depth("tanh", sw, 0.05) == pytest.approx(6 * p.xi_c)
    assert mf.trainable_depth("tanh", sw, 0.05, factor=3.0) == pytest.approx(3 * p.xi_c)
    if sw < 1.761:
        assert p.phase == "ordered" and p.c_star == 1.0
        assert p.chi_c == pytest.approx(p.chi1)
        assert p.xi_c == pytest.approx(-1 / math.log(p.chi1))
    else:  # chaotic: ξ_c comes from the slope at c* < 1, not from χ₁ (> 1)
        assert p.phase == "chaotic" and p.chi1 > 1
        assert 0 < p.c_star < 1 and p.chi_c < 1
        assert p.xi_c == pytest.approx(-1 / math.log(p.chi_c))


def test_near_critical_xi_is_huge():
    assert mf.xi_c("tanh", 1.76, 0.05) > 1000
    assert math.isinf(mf.xi_c("tanh", 1.0, 0.0))  # exactly critical (q* = 0, χ₁ = 1)


def test_c_star_is_a_fixed_point_of_the_correlation_map():
    sw, sb = 2.5, 0.05
    q, c = mf.q_star("tanh", sw, sb), mf.c_star("tanh", sw, sb)
    s = math.sqrt(q)
    mapped = (sw * mf.gaussian_expectation_2d(lambda a, b: np.tanh(s * a) * np.tanh(s * b), c) + sb) / q
    assert mapped == pytest.approx(c, abs=1e-10)
    assert mf.chi_c("tanh", sw, sb) < 1
    # σ_b² = 0 and odd φ: the chaotic fixed point is c* = 0
    assert mf.c_star("tanh", 2.0, 0.0) == pytest.approx(0.0, abs=1e-10)


def test_quadrature_is_normalised():
    x, w = mf.gauss_hermite()
    assert len(x) >= 100 and w.sum() == pytest.approx(1.0)
    assert mf.gaussian_expectation(lambda z: z**2) == pytest.approx(1.0)
    assert mf.gaussian_expectation_2d(lambda a, b: a * b, 0.3) == pytest.approx(0.3)


def test_erf_and_callables():
    # erf'(0)² = 4/π, so with σ_b² = 0 the critical point is π/4.
    assert mf.critical_sigma_w2("erf", 0.0) == pytest.approx(math.pi / 4, abs=1e-4)
    assert 1.0 < mf.critical_sigma_w2("erf", 0.05) < 2.0
    for sb in (0.0, 0.05, 0.5):
        assert mf.critical_sigma_w2(np.tanh, sb) == pytest.approx(mf.critical_sigma_w2("tanh", sb), abs=1e-3)
    a, b = mf.mean_field(np.tanh, 2.5, 0.05), mf.mean_field("TANH", 2.5, 0.05)
    assert a.xi_c == pytest.approx(b.xi_c, rel=1e-4) and a.activation == "tanh"
    act = mf.get_activation(lambda x: x**3 / 3 + x)
    assert not act.analytic
    assert act.deriv(np.array([0.0, 1.0, 2.0])) == pytest.approx([1.0, 2.0, 5.0], rel=1e-8)
    assert set(("tanh", "relu", "erf")) <= set(mf.ACTIVATIONS)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mf.q_star("tanh", 0.0, 0.05),
        lambda: mf.q_star("tanh", -1.0, 0.05),
        lambda: mf.chi1("tanh", 1.0, -0.1),
        lambda: mf.mean_field("tanh", float("nan"), 0.0),
        lambda: mf.critical_sigma_w2("tanh", -0.01),
        lambda: mf.mean_field("tanhh", 1.0, 0.0),
        lambda: mf.mean_field(42, 1.0, 0.0),
        lambda: mf.trainable_depth("tanh", 1.0, 0.05, factor=0),
        lambda: mf.q_star("tanh", 1.0, 0.05, quad_points=10),
    ],
)
def test_bad_inputs_raise(call):
    with pytest.raises(ReprobeError) as info:
        call()
    assert "\n" not in str(info.value)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ReprobeError, match="tanh") as info:
        mf.get_activation("tnah")
    assert "relu" in str(info.value) and "erf" in str(info.value)


def test_to_dict_is_json_safe():
    d = mf.mean_field("tanh", 1.5, 0.05).to_dict()
    assert set(d) >= {"sigma_w2", "sigma_b2", "q_star", "chi1", "c_star", "chi_c", "xi_c", "phase"}
    assert json.loads(json.dumps(d)) == d
    crit = mf.mean_field("relu", 2.0, 0.0).to_dict()
    assert crit["xi_c"] == "inf" and crit["phase"] == "critical"
    json.dumps(crit, allow_nan=False)
    with pytest.raises(Exception):  # frozen
        mf.mean_field("tanh", 1.5, 0.05).xi_c = 1.0  # type: ignore[misc]


# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    click_testing = pytest.importorskip("click.testing")
    from reprobe.cli.main import cli as reprobe_cli

    runner = click_testing.CliRunner()
    return lambda *args: runner.invoke(reprobe_cli, list(args))


def test_cli_critical(cli):
    res = cli("theory", "critical", "--activation", "tanh", "--sigma-b2", "0.05")
    assert res.exit_code == 0, res.output
    assert "1.761" in res.output
    res = cli("theory", "critical", "--activation", "tanh", "--sigma-b2", "0.05", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["sigma_w2"] == pytest.approx(1.761, abs=0.002)
    assert data["activation"] == "tanh" and data["sigma_b2"] == 0.05


def test_cli_critical_defaults_to_the_sigma_b2_of_run(cli):
    from reprobe.cli.run import run_cmd

    run_default = next(p.default for p in run_cmd.params if p.name == "sigma_b2")
    res = cli("theory", "critical")
    assert res.exit_code == 0, res.output
    assert f"sigma_b2 = {run_default:g}" in res.output and "1.761" in res.output  # not 1.0 (σ_b² = 0)


def test_cli_xi(cli):
    res = cli("theory", "xi", "--activation", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05")
    assert res.exit_code == 0, res.output
    assert "ordered" in res.output and "15.79" in res.output
    res = cli("theory", "xi", "--activation", "tanh", "--sigma-w2", "2.0", "--sigma-b2", "0.05", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["phase"] == "chaotic"
    assert data["xi_c"] == pytest.approx(25.2, rel=0.02)
    assert data["q_star"] == pytest.approx(0.722, abs=0.002)
    assert data["trainable_depth"] == pytest.approx(6 * data["xi_c"])


def test_cli_line(cli):
    res = cli("theory", "line", "--sigma-b2", "0:0.1:0.05", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["sigma_b2"] == [0.0, 0.05, 0.1]
    assert data["sigma_w2"] == pytest.approx([1.0, 1.761, 1.986], abs=0.002)
    assert cli("theory", "line", "--sigma-b2", "0,0.5").exit_code == 0


def test_cli_errors(cli):
    res = cli("theory", "critical", "--activation", "tnah")
    assert res.exit_code == 2
    msg = res.output.strip()
    assert msg.startswith("Error:") and "\n" not in msg
    assert "tanh" in msg and "relu" in msg and "erf" in msg
    res = cli("theory", "xi", "--sigma-w2", "-1")
    assert res.exit_code == 2 and "sigma_w2" in res.output
    res = cli("theory", "line", "--sigma-b2", "nonsense")
    assert res.exit_code == 2 and "START:STOP:STEP" in res.output
