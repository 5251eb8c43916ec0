"""What runs in a worker process: solve one instance and report an Outcome, never raise.

Local workers are forked from a server process that has imported the solver stack once; Dask
workers call :func:`run_task` in their own processes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

from ..errors import InputError
from ..instance.schema import Instance
from ..results import Result

# A solve inside a batch is single-threaded with a fixed seed, so that its result does not
# depend on the worker count or the engine.
BATCH_THREADS = 1
BATCH_SEED = 0
HANG_S = 3600


@dataclass
class Task:
    name: str
    path: str | None            # absolute path of the instance file, or None
    instance: Instance | None   # or the Instance itself
    options: dict               # keyword arguments of gpuplan.solve
    hook: str = ""              # test hook: "crash" (the process kills itself) or "hang"


@dataclass
class Outcome:
    name: str
    status: str                 # a solve status, "invalid" or "crashed"
    message: str = ""
    result: Result | None = None
    seconds: float = 0.0


def run_task(task: Task) -> Outcome:
    """Solve ``task``; bad input gives status ``invalid``, any other exception ``error``."""
    from ..api import solve  # imported once by the fork server, not by ``import gpuplan.batch``

    started = time.perf_counter()
    _test_hook(task.hook)
    try:
        result = solve(task.instance if task.instance is not None else task.path, **task.options)
    except InputError as exc:
        return Outcome(task.name, "invalid", str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - one instance's failure must not stop the batch
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Outcome(task.name, "error", message, seconds=time.perf_counter() - started)
    return Outcome(task.name, result.status, result.message, result, time.perf_counter() - started)


def serve(task: Task, connection) -> None:
    """Entry point of a local worker process: solve, send the Outcome, exit."""
    # Ctrl-C is the parent's to handle: it stops the workers and keeps what finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    outcome = run_task(task)
    try:
        connection.send(outcome)
    except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle
        connection.send(Outcome(task.name, "error", f"cannot return the result: {exc}", seconds=outcome.seconds))
    finally:
        connection.close()


def _exit_with_parent(period_s: float = 1.0) -> None:
    """End this process when the one that started it is gone (e.g. the batch was killed)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(period_s)
        os._exit(75)

    threading.Thread(target=watch, name="gpuplan-batch-watchdog", daemon=True).start()


def _test_hook(hook: str) -> None:
    if hook == "crash":
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(70)
    if hook == "hang":
        time.sleep(HANG_S)
