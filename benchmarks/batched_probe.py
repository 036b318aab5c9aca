"""A σ_w² row of a sweep probed one net at a time vs all together (the batched-MLP path), one process.

    OMP_NUM_THREADS=1 python benchmarks/batched_probe.py                  # 8 nets, depth 20, width 64
    python benchmarks/batched_probe.py --nets 8 --depth 20 --width 100 --repeats 5

Both sides make the sweep's records from the same tasks (the sweep's default probe options on
mnist-5k): one at a time is ``run_point`` per net, together is ``run_unit`` on the whole row
(:class:`reprobe.probe.batched.BatchedMLPProbe`). Prints, for each, the whole-record time (net
build, probe, prediction) and the probe's own time (fit + evaluate), best of ``--repeats``, the
points per second, checks that both give the same cutoffs, and ends with
``batched speed-up = <ratio>`` (records) and ``probe speed-up = <ratio>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from reprobe.experiments.points import run_point, run_unit
from reprobe.experiments.sweep import SWEEP_PROBE_DEFAULTS
from reprobe.probe.config import recorded_options


def row_tasks(nets: int, depth: int, width: int, device: str) -> list:
    """The tasks of one σ_w² row (1.0 … 4.0) as ``run_sweep`` makes them."""
    probe = recorded_options({**SWEEP_PROBE_DEFAULTS, "seed": 0, "progress": False, "device": device})
    settings = {"model": "mlp", "model_options": {"activation": "tanh", "shape": "wide"}, "data": "mnist-5k",
                "data_options": {"root": None, "seed": 0, "test_fraction": 0.1}, "probe": probe, "train": None}
    return [{"sigma_w2": 1.0 + 3.0 * i / max(1, nets - 1), "sigma_b2": 0.05, "depth": depth, "width": width,
             "seed": 0, **settings} for i in range(nets)]


def timed(run, tasks) -> tuple:
    """(wall seconds, probe seconds, records) of one run."""
    t0 = time.perf_counter()
    records = run(tasks)
    wall = time.perf_counter() - t0
    probe = sum(r["timings"]["probe_fit"] + r["timings"]["probe_evaluate"] for r in records)
    return wall, probe, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", type=int, default=8, help="nets in the row (σ_w² from 1 to 4)")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs of each")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tasks = row_tasks(args.nets, args.depth, args.width, args.device)
    one_at_a_time = lambda ts: [run_point(t) for t in ts]  # noqa: E731
    run_unit(tasks[:2])  # warm-up: data loaded and cached, first calls done
    best = {"one at a time": (float("inf"),) * 2, "batched": (float("inf"),) * 2}
    for _ in range(args.repeats):  # interleaved, so that a busy moment of the machine hits both
        for name, run in (("one at a time", one_at_a_time), ("batched", run_unit)):
            wall, probe, records = timed(run, tasks)
            best[name] = (min(best[name][0], wall), min(best[name][1], probe))
            if name == "batched":
                assert all(r["timings"].get("probe_batched") == len(tasks) for r in records), "not batched"
                batched_cutoffs = [r["cutoffs"] for r in records]
            else:
                single_cutoffs = [r["cutoffs"] for r in records]
    same = sum(a == b for a, b in zip(single_cutoffs, batched_cutoffs))
    print(f"{args.nets} tanh MLPs, depth {args.depth}, width {args.width}, mnist-5k, sweep defaults, "
          f"device {args.device}, {torch.get_num_threads()} thread(s), best of {args.repeats}")
    for name, (wall, probe) in best.items():
        print(f"  {name:<14} records {wall:7.3f} s ({args.nets / wall:6.2f} points/s)   probe fit+evaluate {probe:7.3f} s")
    print(f"  same cutoffs: {same} of {args.nets} nets")
    print(f"batched speed-up = {best['one at a time'][0] / best['batched'][0]:.2f}")
    print(f"probe speed-up = {best['one at a time'][1] / best['batched'][1]:.2f}")


if __name__ == "__main__":
    main()
