"""The Ray executor: run work items on a Ray cluster and hand each result to the driver as it lands.

What runs where:

* the **driver** (the process that calls :func:`ray_map`) connects to the cluster, puts the shared
  data (a sweep's loaded data set) into Ray's object store **once**, submits one Ray task per item,
  and receives the results as they finish (``ray.wait``); only the driver writes files.
* each **worker** fetches the shared data from its node's object store the first time it needs it
  and keeps it for the rest of its life (one copy per node in the object store, one deserialised
  copy per worker process), sets ``torch`` threads to its CPU share and runs the item.

A worker process or node that dies has its item retried by Ray (``retries`` times); the driver sees
each item's result once. Ctrl-C (or any error) cancels the outstanding tasks. Ray is imported only
here and only when used: reprobe works without it.
"""

from __future__ import annotations

import logging
import socket
from contextlib import contextmanager
import subprocess
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..core.errors import ReprobeError, param

#: The extra that installs Ray.
INSTALL_HINT = 'pip install -e ".[ray]"'
#: Seconds to wait for a cluster at an explicit address before giving up.
CONNECT_TIMEOUT_S = 30.0

_SHARED: Dict[str, Any] = {}  # in each worker: shared objects by object-store id, fetched once
_REMOTE = None
_JOINED: Optional[str] = None  # the address this process gave ray.init
_CHECKED: set = set()  # addresses that answered as Ray clusters


def import_ray():
    """The ``ray`` module; a one-line error naming the install command when it is missing."""
    try:
        import ray
    except ImportError:
        raise ReprobeError(f"the Ray executor needs Ray, which is not installed; install it with {INSTALL_HINT}") from None
    return ray


def check_ray_options(cpus_per_point: float, gpus_per_point: float, retries: int) -> None:
    """Fail at once on a resource request Ray would refuse (or wait for forever)."""
    if not cpus_per_point > 0:
        raise ReprobeError(f"{param('cpus_per_point')} must be above 0, got {cpus_per_point}")
    if not gpus_per_point >= 0:
        raise ReprobeError(f"{param('gpus_per_point')} must be 0 or more, got {gpus_per_point}")
    if gpus_per_point > 1 and gpus_per_point != int(gpus_per_point):
        raise ReprobeError(f"{param('gpus_per_point')} above 1 must be a whole number (Ray shares a GPU only in "
                           f"fractions below 1), got {gpus_per_point}")
    if retries < 0:
        raise ReprobeError(f"{param('retries')} must be 0 or more, got {retries}")


def _host_port(address: str):
    """(host, port) of ``host:port`` or ``ray://host:port``; None for forms Ray resolves itself."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def _explicit(address: Optional[str]) -> bool:
    return bool(address) and address not in ("auto", "local")


def check_address(address: Optional[str], timeout: Optional[float] = None) -> None:
    """A one-line error within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_S`) when no Ray
    cluster answers at ``address`` (checked once per process; ``None``/``"auto"`` are left to Ray)."""
    if not _explicit(address) or address in _CHECKED:
        return
    _check_reachable(address, CONNECT_TIMEOUT_S if timeout is None else timeout)
    _CHECKED.add(address)


def _check_reachable(address: str, timeout: float) -> None:
    """A one-line error within ``timeout`` seconds when nothing answers at ``address``.

    ``ray.init`` itself waits minutes for an address that does not answer (in C++, out of reach of
    signals), so the port is tried first, and a port that answers but is no Ray cluster is tried in
    a child process that is stopped after ``timeout``.
    """
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=timeout).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ReprobeError(f"cannot reach the Ray cluster at {address} ({reason}); start a Ray head node there, "
                           f"or leave {param('address')} out to start a local cluster") from None
    code = ("import logging, sys, ray; ray.init(address=sys.argv[1], logging_level=logging.ERROR, "
            "log_to_driver=False); ray.shutdown()")
    try:
        res = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ReprobeError(f"the Ray cluster at {address} did not answer within {timeout:g} s; is it the address "
                           f"a Ray head node printed when it started?") from None
    if res.returncode != 0:
        if "InvalidAuthToken" in res.stderr or "Unauthenticated" in res.stderr:
            raise ReprobeError(f"the Ray cluster at {address} wants its authentication token: set RAY_AUTH_MODE=token "
                               f"here (and RAY_AUTH_TOKEN, if this machine's ~/.ray/auth_token is not the cluster's)")
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise ReprobeError(f"cannot connect to the Ray cluster at {address}: {last}")


def connect(address: Optional[str] = None, timeout: Optional[float] = None) -> bool:
    """Join the cluster at ``address`` (``"auto"``: the one running on this machine; None: the one
    this process already joined, else a new local one), failing within ``timeout`` seconds (default
    :data:`CONNECT_TIMEOUT_S`) where an address is given. Returns True when this call started the
    connection (the caller then shuts it down: :func:`ray_session`)."""
    global _JOINED
    ray = import_ray()
    if ray.is_initialized():
        if not _explicit(address) or address == _JOINED or \
                _host_port(address) == _host_port(ray.get_runtime_context().gcs_address):
            return False
    check_address(address, timeout)
    if ray.is_initialized():
        raise ReprobeError(f"this process is already connected to the Ray cluster at "
                           f"{ray.get_runtime_context().gcs_address}, not {address}; call ray.shutdown() first")
    kw: Dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    if not address or address == "local":
        kw["include_dashboard"] = False
    try:
        # None starts a new local cluster even where `ray start` left one running ("auto" joins that)
        ray.init(address="local" if not address else address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ReprobeError(f"cannot connect to the Ray cluster at {address or 'a new local cluster'}: {first}") from None
    _JOINED = address
    return True


@contextmanager
def ray_session(address: Optional[str] = None) -> Iterator[Any]:
    """``with ray_session(address) as ray:`` connected to the cluster (:func:`connect`); a
    connection made here is closed on leaving (one the caller made stays open)."""
    started = connect(address)
    try:
        yield import_ray()
    finally:
        if started:
            global _JOINED
            _JOINED = None
            import_ray().shutdown()


def _call(fn: Callable, item: Any, shared_box: List[Any], threads: int) -> Any:
    """Run on a worker: ``fn(item, shared)`` with ``shared`` fetched once per process."""
    import torch

    import ray

    shared = None
    if shared_box:
        ref = shared_box[0]
        key = ref.hex()
        if key not in _SHARED:
            _SHARED.clear()  # one sweep's data at a time: a worker reused by the next sweep drops the last one
            _SHARED[key] = ray.get(ref)
        shared = _SHARED[key]
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return fn(item, shared)


def _remote():
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = import_ray().remote(_call)
    return _REMOTE


def ray_map(fn: Callable[[Any, Any], Any], items: Sequence[Any], on_result: Callable[[int, Any], None], *,
            shared: Any = None, address: Optional[str] = None, cpus_per_item: float = 1.0,
            gpus_per_item: float = 0.0, retries: int = 3, name: str = "reprobe") -> None:
    """Run ``fn(item, shared)`` for every item on Ray; call ``on_result(index, result)`` in this
    process as each one finishes (in the order they finish).

    Args:
        fn: a module-level function (workers import it by name).
        items: the work items (picklable).
        on_result: called in the driver once per item.
        shared: one object every item needs (e.g. the data set), put in the object store once.
        address: the cluster (see :func:`connect`).
        cpus_per_item, gpus_per_item: Ray resources of one item (fractions allowed); torch threads
            per worker = ``max(1, int(cpus_per_item))``.
        retries: how often an item whose worker or node died is run again.
        name: the Ray task name (shown by ``ray list tasks`` and in the worker's process title).

    Errors inside ``fn`` are raised here (a :class:`ReprobeError` as itself); an interrupt or error
    cancels the items still running or waiting.
    """
    check_ray_options(cpus_per_item, gpus_per_item, retries)
    with ray_session(address) as ray:
        _map(ray, fn, items, on_result, shared, cpus_per_item, gpus_per_item, retries, name)


def check_cluster_fits(ray, cpus_per_item: float, gpus_per_item: float) -> None:
    """One line, instead of tasks that wait forever, where no node of the cluster could run one item
    (Ray queues a task that asks for more CPUs or GPUs than any node has, without a word)."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if not nodes:
        return
    if not any(n.get("CPU", 0) >= cpus_per_item and n.get("GPU", 0) >= gpus_per_item for n in nodes):
        most_cpus = max(n.get("CPU", 0) for n in nodes)
        most_gpus = max(n.get("GPU", 0) for n in nodes)
        raise ReprobeError(
            f"no node of the Ray cluster can run a point asking for {param('cpus_per_point')} {cpus_per_item:g} and "
            f"{param('gpus_per_point')} {gpus_per_item:g}: the largest node has {most_cpus:g} CPUs and "
            f"{most_gpus:g} GPUs; ask for less, or add such a node")


def _map(ray, fn, items, on_result, shared, cpus_per_item, gpus_per_item, retries, name) -> None:
    check_cluster_fits(ray, cpus_per_item, gpus_per_item)
    pending: Dict[Any, int] = {}
    try:
        box = [ray.put(shared)] if shared is not None else []
        task = _remote().options(num_cpus=cpus_per_item, num_gpus=gpus_per_item, max_retries=retries,
                                 retry_exceptions=False, name=name)
        threads = max(1, int(cpus_per_item))
        for i, item in enumerate(items):
            pending[task.remote(fn, item, box, threads)] = i
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                i = pending.pop(ref)
                on_result(i, _result(ray, ref, retries))
    except BaseException:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or its worker gone: nothing left to stop
                pass
        raise


def _result(ray, ref, retries: int) -> Any:
    """The value of a finished task; its error as a one-line ReprobeError where Ray lost it."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, ReprobeError):
            raise e.cause from None
        raise
    except ray.exceptions.RayError as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ReprobeError(f"Ray lost a point after {retries} retries ({type(e).__name__}: {first}); raise "
                           f"{param('retries')}, or read the worker logs under /tmp/ray/session_latest/logs") from None
