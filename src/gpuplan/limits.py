"""The bounds every input must keep: sizes gpuplan can hold in memory and numbers HiGHS can
honour. Outside them an input is rejected with one line, before any work starts.

Why these numbers:

- files: an instance file or CSV table of more than 256 MiB is not a plausible instance (the
  1,000,000-GPU target is a few MB); without a bound ``csv: /dev/zero`` would never end;
- nesting: an instance is at most 5 levels deep (file -> jobs -> job -> gpu_options -> option);
  64 leaves room and stays far below Python's recursion limit;
- counts: 1,000,000 nodes and 10,000,000 GPUs in one instance (10x the next scale target),
  100,000 GPUs per node; other integers (CPU milli, memory MiB, GPUs of a job) at most 1e9;
- amounts (throughput, costs, priorities, weights, memory, power): at most 1e9 and, when not
  0, at least 1e-9; HiGHS drops matrix values below 1e-9 and treats costs from 1e20 as
  infinite, and a MILP whose coefficients span more than about 1e9 is unreliable. So the
  nonzero objective coefficients of an instance (priority x throughput, costs) must also lie
  within a factor :data:`MAX_COEFFICIENT_RANGE` of each other: change the units if not.
"""

from __future__ import annotations

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_NESTING = 64

MAX_NODES = 1_000_000
MAX_GPUS = 10_000_000
MAX_GPUS_PER_NODE = 100_000
MAX_COUNT = 1_000_000_000

MAX_AMOUNT = 1e9
MIN_AMOUNT = 1e-9
MAX_COEFFICIENT_RANGE = 1e9
