"""The contract every registered metric keeps, checked for each one the registry lists: finite on
reconstructions good and bad, and best for a perfect one (zero, for metrics of what was lost)."""

import math

import pytest
import torch

from reprobe.metrics import get_metric, list_metrics


def _reconstructions():
    """Inputs in [0, 1] and reconstructions from perfect to all-lost (each row the mean image)."""
    x = torch.rand(32, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    mean = x.mean(0, keepdim=True).expand_as(x)
    return x, {"perfect": x.clone(), "half lost": 0.5 * x + 0.5 * mean, "all lost": mean.clone()}


@pytest.mark.parametrize("name", list_metrics())
def test_every_metric_is_finite_and_best_for_a_perfect_reconstruction(name):
    metric = get_metric(name)
    x, recon = _reconstructions()
    values = {k: metric(x, r) for k, r in recon.items()}
    assert all(math.isfinite(v) for v in values.values()), values
    sign = -1.0 if metric.higher_is_more_information else 1.0  # sign·value: lower is better
    assert sign * values["perfect"] < sign * values["half lost"] < sign * values["all lost"], values
    if not metric.higher_is_more_information:
        assert abs(values["perfect"]) < 1e-9, f"{name} of a perfect reconstruction is {values['perfect']}, not 0"
