"""Local engine: every solve in a fresh process of its own, at most ``workers`` at a time.

A process per instance isolates failures completely: a solve that crashes, is killed or
leaks memory takes nothing else down, and is reported as ``crashed`` with the cause. The
processes are forked from a fork server that imports the solver stack once, so a process
costs milliseconds, not an import of Pyomo (where there is no fork server, e.g. on Windows,
each process is spawned and imports it).

Neither the fork server nor a worker imports the caller's main module: a worker runs
:func:`gpuplan.batch.worker.serve` on a Task of gpuplan objects and needs nothing from it, and
importing it would run an unguarded script (one without ``if __name__ == "__main__":``) again
in every worker, or fail where it cannot be imported (``python - < script.py``).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
import time
import types
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait

from .signals import sigint_deferred
from .worker import Outcome, Task, serve

PRELOAD = ["gpuplan.api", "gpuplan.batch.worker"]
JOIN_S = 5.0


@dataclass
class _Running:
    task: Task
    process: mp.Process
    connection: object
    started: float


class LocalEngine:
    def __init__(self, workers: int):
        self.workers = workers

    def run(self, tasks: Iterable[Task], done: Callable[[Outcome], None]) -> None:
        """Solve ``tasks``; call ``done`` in this process as each one ends (in any order)."""
        context = _context()
        pending = deque(tasks)
        running: dict[object, _Running] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    with sigint_deferred():  # a started process is always registered, to be stopped
                        job = _start(context, pending.popleft())
                        running[job.connection] = job
                for connection in wait(list(running)):
                    outcome = _finish(running[connection])  # still registered if Ctrl-C comes mid-read
                    del running[connection]
                    done(outcome)
        finally:
            for job in running.values():  # only left on Ctrl-C or an error in ``done``
                _stop(job)

    def close(self) -> None:
        pass


def _context():
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # ignored if the server already runs
        return context
    return mp.get_context("spawn")


def _start(context, task: Task) -> _Running:
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=serve, args=(task, sender), name=f"gpuplan-batch:{task.name}", daemon=True)
    with _main_module_hidden():  # also covers the fork server's first start, inside start()
        process.start()
    sender.close()  # the child holds the only writer: its death makes ``receiver`` readable
    return _Running(task, process, receiver, time.perf_counter())


@contextmanager
def _main_module_hidden():
    """Hide the caller's main module from the process being started.

    A spawned or forkserver child imports the parent's ``__main__`` (as ``__mp_main__``) when
    it has a ``__spec__`` or a ``__file__``: ``Process.start()`` reads them (and, the first
    time, starts the fork server, which reads them too) and has no option to leave them out.
    A stand-in without either, for the length of ``start()``, means no child imports anything
    of the caller's. Other threads of this process see the stand-in meanwhile; none of ours
    reads ``__main__``.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__", "stand-in while a gpuplan worker starts")
    try:
        yield
    finally:
        if main is None:
            del sys.modules["__main__"]
        else:
            sys.modules["__main__"] = main


def _finish(job: _Running) -> Outcome:
    try:
        outcome = job.connection.recv()
    except (EOFError, OSError):
        outcome = None
    job.connection.close()
    job.process.join(JOIN_S)
    if job.process.is_alive():
        job.process.kill()
        job.process.join()
    if outcome is None:
        return Outcome(job.task.name, "crashed", _death(job.process.exitcode),
                       seconds=time.perf_counter() - job.started)
    return outcome


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process killed by {name}"
    return f"worker process exited with code {code} without a result"


def _stop(job: _Running) -> None:
    job.process.kill()
    job.process.join(JOIN_S)
    job.connection.close()
