"""Executors: run the tasks of a grid and hand each finished record to the driver.

Only the driver (this process) writes the store; workers send records back. The ``local`` executor
runs ``jobs == 1`` in this process and more jobs in spawned worker processes, each with its share of
the cores; the ``ray`` executor runs them on a Ray cluster (:mod:`.ray_executor`).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import warnings
from typing import Any, Callable, Dict, List, Optional

from ..core.errors import ParamMessage, ReprobeError, param
from .points import bundles_of, group_units, run_unit, run_unit_with
from .store import PointStore

#: The executors :func:`run_tasks` knows.
EXECUTORS = ("local", "ray")


class Interrupted(ParamMessage, KeyboardInterrupt):
    """Ctrl-C during a sweep; the message says how many points were saved and how to go on."""


def _init_worker(threads: int) -> None:
    import signal

    import torch

    # Ctrl-C goes to the whole process group: the parent alone answers it (one line, and it stops
    # the workers), instead of every worker printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing semaphore; a worker ended by Ctrl-C could not free
    # it, and multiprocessing would warn about a leak. Workers draw no bars: a thread lock does.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())

    torch.set_num_threads(max(1, int(threads)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def check_executor(executor: str, address: Optional[str] = None) -> None:
    """A one-line error for an unknown executor, or an address given to the local one."""
    if executor not in EXECUTORS:
        raise ReprobeError(f"unknown {param('executor')} {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        raise ReprobeError(f"{param('address')} names a Ray cluster; pass {param('executor', 'ray')} with it")


def check_run_options(executor: str = "local", address: Optional[str] = None, cpus_per_point: float = 1.0,
                      gpus_per_point: float = 0.0, retries: int = 3) -> None:
    """Fail before any work on an unknown executor or a Ray request Ray would refuse."""
    check_executor(executor, address)
    if executor == "ray":
        from .ray_executor import check_address, check_ray_options, import_ray

        import_ray()  # not installed, or no cluster at the address: say so before the data loads
        check_ray_options(cpus_per_point, gpus_per_point, retries)
        check_address(address)


def run_tasks(tasks: List[Dict[str, Any]], store: PointStore, jobs: Optional[int] = None, progress: bool = True,
              desc: str = "points", on_record: Optional[Callable[[dict], None]] = None, batch: int = 1, *,
              executor: str = "local", address: Optional[str] = None, cpus_per_point: float = 1.0,
              gpus_per_point: float = 0.0, retries: int = 3) -> int:
    """Run the tasks whose points are not in ``store`` yet; append each record as it lands.

    Args:
        tasks: grid points with their settings (:func:`~.points.run_point`).
        store: the driver's store; only this process appends to it.
        jobs: local executor: worker processes, spawned, with ``max(1, cores // jobs)`` torch
            threads each (``OMP_NUM_THREADS``, when set, wins: :func:`threads_per_job`); 1 runs in
            this process; None: one per core. Not used by Ray (``cpus_per_point`` shares its CPUs).
        progress: draw a progress bar. desc: its label. on_record: called with each landed record.
        batch: tasks per unit of work (:func:`~.points.group_units`).
        executor: ``"local"`` or ``"ray"``.
        address: ray: the cluster (``"auto"``: the one on this machine; None: the one this process
            joined, else a new local one). cpus_per_point, gpus_per_point: ray resources of one unit
            (fractions allowed; ``gpus_per_point=0.25`` puts four on a GPU); torch threads per Ray
            worker = ``cpus_per_point``. retries: ray: reruns of a unit whose worker or node died.

    Returns:
        The number of points run now.
    """
    from tqdm.auto import tqdm

    check_run_options(executor, address, cpus_per_point, gpus_per_point, retries)
    todo = [t for t in tasks if t not in store]
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ReprobeError(f"{param('jobs')} must be at least 1, got {jobs}")
    units = group_units(todo, batch)
    jobs = min(jobs, max(1, len(units)))
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=desc, unit="pt", disable=not progress,
               dynamic_ncols=True)
    done = 0

    def land(rec):
        nonlocal done
        if store.append(rec):  # a point already there (never, but a retried unit must not write twice)
            done += 1
            bar.update(1)
            if on_record:
                on_record(rec)

    try:
        if not todo:
            return 0
        if executor == "ray":
            _run_on_ray(units, land, address=address, cpus=cpus_per_point, gpus=gpus_per_point, retries=retries,
                        name=f"reprobe-{desc}")
        elif jobs == 1:
            _run_here(units, threads_per_job(jobs), land)
        else:
            _run_in_workers(units, jobs, threads_per_job(jobs), land)
    except KeyboardInterrupt:
        saved = len(tasks) - len(todo) + done
        raise Interrupted(f"interrupted; {saved} of {len(tasks)} points saved, {param('resume', True)} continues") from None
    finally:
        bar.close()
    return done


def _run_on_ray(units: List[List[Dict[str, Any]]], land: Callable[[dict], None], *, address: Optional[str],
                cpus: float, gpus: float, retries: int, name: str) -> None:
    """The units on Ray; the data sets go to the object store once (:func:`~.ray_executor.ray_map`)."""
    from .ray_executor import ray_map

    def landed(_, records):
        for rec in records:
            land(rec)

    bundles = bundles_of([t for u in units for t in u])
    ray_map(run_unit_with, units, landed, shared=bundles, address=address, cpus_per_item=cpus, gpus_per_item=gpus,
            retries=retries, name=name)


def threads_per_job(jobs: int) -> int:
    """Torch threads for each of ``jobs`` workers: the cores shared out, or ``OMP_NUM_THREADS`` when the
    user set it (on a machine shared with other work, two threads per job can run many times slower
    than one: each parallel region waits for a thread that another process holds)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) >= 1:
        return int(env)
    return max(1, (os.cpu_count() or 1) // jobs)


def _run_here(units: List[List[Dict[str, Any]]], threads: int, land: Callable[[dict], None]) -> None:
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for unit in units:
            for rec in run_unit(unit):
                land(rec)
    finally:
        torch.set_num_threads(old)


def _run_in_workers(units: List[List[Dict[str, Any]]], jobs: int, threads: int, land: Callable[[dict], None]) -> None:
    import signal

    ctx = multiprocessing.get_context("spawn")
    # Workers start with Ctrl-C ignored (a started interpreter keeps an inherited SIG_IGN), so that
    # one pressed while they import torch prints no traceback either; submitting starts them all.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ex = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(threads,))
        futures = [ex.submit(run_unit, unit) for unit in units]
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        for fut in cf.as_completed(futures):
            for rec in fut.result():
                land(rec)
    except BaseException:
        _stop_workers(ex)
        raise
    ex.shutdown(wait=True)


def _stop_workers(ex: cf.ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (shutdown alone waits for running points)."""
    processes = list((getattr(ex, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
    # With its workers gone the pool is broken and shuts down at once; waiting lets it close its
    # queues (else multiprocessing warns about leaked semaphores at exit).
    ex.shutdown(wait=True, cancel_futures=True)
