"""Dask engine: the same tasks sent to an existing Dask distributed cluster.

Workers need gpuplan installed and must see the instance files under the same absolute
paths (a shared file system); results come back to this process, which writes every output,
so the output folder needs to exist only here. A solve that kills its Dask worker is retried
by the scheduler on another worker (``distributed.scheduler.allowed-failures``, default 3)
and then reported as ``crashed``.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterable

from .inputs import BatchError
from .worker import Outcome, Task, run_task

CONNECT_TIMEOUT_S = 10.0


def connect(scheduler, timeout: float | None = None):
    """A ``distributed.Client`` for ``scheduler`` (an address or a Client) and whether we own it."""
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler is an address such as tcp://HOST:PORT or a distributed.Client, "
                        f"not {type(scheduler).__name__}")
    _probe(scheduler, timeout or CONNECT_TIMEOUT_S)
    try:
        client = Client(scheduler, timeout=timeout or CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a bad address...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    return client, True


def _probe(address: str, timeout: float) -> None:
    """Fail fast on a refused TCP connection (Dask itself retries until its timeout)."""
    host, sep, port = address.removeprefix("tcp://").rpartition(":")
    if not sep or not port.isdigit() or "://" in host:
        return  # another protocol or form: leave it to Dask
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {reason}") from None


class DaskEngine:
    def __init__(self, client, owned: bool):
        self.client = client
        self.owned = owned

    def run(self, tasks: Iterable[Task], done: Callable[[Outcome], None]) -> None:
        from distributed import KilledWorker, as_completed

        futures = {}
        batch = uuid.uuid4().hex[:12]
        try:
            for order, task in enumerate(tasks):
                future = self.client.submit(run_task, task, pure=False, priority=-order,
                                            key=f"gpuplan-batch-{batch}-{task.name}")
                futures[future] = task
            for future in as_completed(list(futures), loop=self.client.loop):
                task = futures.pop(future)
                try:
                    outcome = future.result()
                except KilledWorker as exc:
                    first = " ".join(str(exc).split()).split(". ")[0]  # the rest is Dask's general advice
                    outcome = Outcome(task.name, "crashed", f"Dask worker died running it: {first}")
                except Exception as exc:  # noqa: BLE001
                    outcome = Outcome(task.name, "error", " ".join(f"{type(exc).__name__}: {exc}".split()))
                future.release()
                done(outcome)
        finally:
            if futures:
                self.client.cancel(list(futures))
            self.close()

    def close(self) -> None:
        if self.owned:
            self.client.close()
            self.owned = False
