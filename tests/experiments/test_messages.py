"""Library messages about folders read right from Python: they name functions and parameters, no flags."""

from __future__ import annotations

import re

import pytest

from reprobe.cli.options import flag_for
from reprobe.core.errors import ReprobeError
from reprobe.experiments.run import rebuild_probe
from reprobe.experiments.sweep import validate_grid


def test_rebuild_probe_names_what_writes_a_run_folder(tmp_path):
    with pytest.raises(ReprobeError) as e:
        rebuild_probe(tmp_path)
    assert "has no result.json" in str(e.value) and "ProbeResult.save" in str(e.value)
    assert not re.search(r"--[a-z]", str(e.value))


def test_rebuild_probe_without_decoders_names_both_spellings(tmp_path):
    from reprobe.experiments.run import run_named

    result, _, _ = run_named("mlp", "digits", model_options={"depth": 3, "width": 16}, train_samples=64, progress=False)
    result.save(tmp_path, plots=False)
    with pytest.raises(ReprobeError, match="has no decoders.pt") as e:
        rebuild_probe(tmp_path)
    assert "keep_probe=True" in str(e.value) and "--save-decoders" not in str(e.value)
    assert "--save-decoders" in e.value.spelled(flag_for)


def test_validate_grid_on_an_empty_folder_names_python_and_cli(tmp_path):
    with pytest.raises(ReprobeError) as e:
        validate_grid(tmp_path)
    msg = str(e.value)
    assert "found 0 and 0" in msg and "run_sweep(out, train=" in msg and "reprobe train-grid" in msg
    assert not re.search(r"--[a-z]", msg)
