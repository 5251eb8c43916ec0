"""Dask engine: the same tasks sent to an existing Dask distributed cluster.

Workers need gpuplan installed and must see the instance files under the same absolute
paths (a shared file system); results come back to this process, which writes every output,
so the output folder needs to exist only here. A solve that kills its Dask worker is retried
by the scheduler on another worker (``distributed.scheduler.allowed-failures``, default 3)
and then reported as ``crashed``.

The scheduler is a ``distributed.Client`` or an address: ``tcp://HOST:PORT`` (``HOST:PORT``
alone is tcp, as in Dask) or another Dask protocol (``tls://HOST:PORT``, ``inproc://...``,
``ucx://...``), passed to Dask as it is. Anything else is refused before any connection.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable, Iterable
from contextlib import suppress

from .inputs import BatchError
from .worker import Outcome, Task, run_task

CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
HOST_PORT_SCHEMES = ("tcp", "tls")  # Dask's default scheme is tcp: "HOST:PORT" is tcp://HOST:PORT
EXPECTED = "tcp://HOST:PORT (or another Dask protocol: tls://HOST:PORT, inproc://..., ucx://...)"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):([0-9]{1,5})")


def connect(scheduler, timeout: float | None = None):
    """A ``distributed.Client`` for ``scheduler`` (an address or a Client) and whether we own it.

    A failure is one BatchError, within the connect timeout: a malformed address before any
    network access, a refused or unreachable TCP address by a plain socket probe (Dask itself
    retries until its timeout), and anything else from the Client, which is then closed."""
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler is an address such as tcp://HOST:PORT or a distributed.Client, "
                        f"not {type(scheduler).__name__}")
    timeout = timeout or CONNECT_TIMEOUT_S
    host_port = _host_port(scheduler)
    if host_port is not None:
        _probe(scheduler, *host_port, timeout)
    try:
        client = _closing_client()(scheduler, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, an unknown scheme, a peer that is not Dask...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, (OSError, ValueError)):
            reason = f"{type(exc).__name__}: {reason} (is a Dask scheduler listening there?)"
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    return client, True


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a tcp address, None for another protocol; BatchError if malformed."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if not _SCHEME.fullmatch(scheme) or not rest:
        raise BatchError(f"scheduler address '{address}' is not of the form {EXPECTED}")
    if scheme.lower() not in HOST_PORT_SCHEMES:
        return None  # passed to Dask as it is
    match = _HOST_PORT.fullmatch(rest)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise BatchError(f"scheduler address '{address}' is not of the form {EXPECTED}")
    return (match.group(1).strip("[]"), int(match.group(2))) if scheme.lower() == "tcp" else None


def _probe(address: str, host: str, port: int, timeout: float) -> None:
    """Fail fast on a refused or unreachable TCP address."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {reason}") from None


def _closing_client():
    """``distributed.Client``, closing itself when it fails to connect.

    A Client whose constructor raised is left half made: its ``__del__`` closes it only at
    interpreter exit, where that blocks for twice the connect timeout and prints a traceback.
    Closing it at once, while its event loop still runs, takes milliseconds."""
    from distributed import Client

    class ClosingClient(Client):
        def start(self, **kwargs):
            try:
                super().start(**kwargs)
            except BaseException:
                with suppress(Exception):
                    self.close(timeout=CLOSE_TIMEOUT_S)
                raise

    return ClosingClient


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
