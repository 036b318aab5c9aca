"""ξ̂ with the asymptote fixed at the saturation level: independent of the probed depth; short nets separate."""

import pytest

from reprobe.analysis import correlation_lengths
from reprobe.experiments.run import run_named

pytestmark = pytest.mark.slow

NET = dict(width=128, sigma_b2=0.05, activation="tanh")


def _xi(result, fixed=True):
    shapes = [s["shape"] for s in result.stage_dicts()]
    fits = correlation_lengths(result.metrics, shapes, result.saturation if fixed else None)
    return fits["relative_entropy"]


@pytest.fixture(scope="module")
def probes(mnist):
    out = {}
    for depth, sw in ((20, 1.0), (20, 1.76), (40, 1.76), (100, 1.76)):
        out[depth, sw], _, _ = run_named("mlp", bundle=mnist, model_options=dict(NET, depth=depth, sigma_w2=sw),
                                         progress=False)
    return out


def test_saturation_level_is_the_inputs_against_their_mean(probes):
    import torch

    from reprobe.metrics import get_metric, saturation_levels

    r = probes[20, 1.0]
    assert r.saturation["differential_entropy"] is None  # no such level for a metric of spread
    level = r.saturation["relative_entropy"]
    assert 0.5 < level < 2.0
    # An ordered net's deep reconstructions all look alike: the curve ends near the level.
    assert abs(r.metrics["relative_entropy"][-2] - level) < 0.15 * level
    x = torch.rand(50, 1, 8, 8)
    direct = get_metric("relative_entropy")(x, x.mean(0, keepdim=True).expand_as(x))
    assert saturation_levels(x, ["relative_entropy"])["relative_entropy"] == pytest.approx(direct)


def test_xi_barely_depends_on_the_probed_depth(probes):
    xis = [_xi(probes[d, 1.76]).xi for d in (20, 40, 100)]
    assert max(xis) <= 1.2 * min(xis), xis


def test_short_ordered_net_gets_a_clearly_shorter_xi_than_the_critical_one(probes):
    ordered, critical = _xi(probes[20, 1.0]), _xi(probes[20, 1.76])
    assert critical.xi > 1.5 * ordered.xi, (ordered, critical)
