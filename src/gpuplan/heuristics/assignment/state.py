"""What is free on every node while a heuristic places jobs one by one: whole GPUs, CPU, host
memory and the shares of GPUs being shared. Nodes are bucketed per pool by free GPUs so that
best fit looks at O(GPUs per node) buckets, not at every node."""

from __future__ import annotations

from collections import defaultdict

from ...index.assignment import AssignmentIndex
from ...instance.placement import Placement

SHARE = 1000


class ClusterState:
    def __init__(self, idx: AssignmentIndex, rows: list[Placement]):
        self.idx = idx
        self.free: dict[str, int] = {}                                    # whole GPUs free
        self.cpu: dict[str, int | None] = {}
        self.memory: dict[str, int | None] = {}
        self.shared: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)  # pool -> (node, GPU) -> milli
        self.buckets = {pool.id: [set() for _ in range(pool.gpus_per_node + 1)] for pool in idx.pools.values()}
        self.untouched = {pool.id: set() for pool in idx.pools.values()}   # nothing on it, nothing reserved
        self.closed: set[str] = set()                                      # held whole by a multi-node job
        for node, info in idx.nodes.items():
            if info.pool in self.buckets:
                self.cpu[node], self.memory[node] = info.cpu_milli, info.host_memory_mib
                self._set_free(node, info.usable_gpus)
                if info.reserved_gpus == 0 and info.gpus:
                    self.untouched[info.pool].add(node)
        for row in rows:
            self.take(row)

    def _set_free(self, node: str, free: int) -> None:
        pool = self.idx.nodes[node].pool
        if node in self.free:
            self.buckets[pool][self.free[node]].discard(node)
        self.free[node] = free
        self.buckets[pool][free].add(node)

    def take(self, row: Placement) -> None:
        job, info = self.idx.instance_job(row.job), self.idx.nodes[row.node]
        self.untouched[info.pool].discard(row.node)
        if row.gpu_index is not None:
            shared = self.shared[info.pool]
            key = (row.node, row.gpu_index)
            if key not in shared:
                shared[key] = 0
                self._set_free(row.node, self.free[row.node] - 1)
            shared[key] += job.gpu_share_milli
        elif row.gpus:
            self._set_free(row.node, self.free[row.node] - row.gpus)
        if self._holds_whole(job, info, row):  # nothing else may run on the node
            self.closed.add(row.node)
        if self.cpu[row.node] is not None:
            self.cpu[row.node] -= job.cpu_milli
        if self.memory[row.node] is not None:
            self.memory[row.node] -= job.host_memory_mib

    def _holds_whole(self, job, info, row: Placement) -> bool:
        """A multi-node job's row: a new one needs more GPUs than the node has; a running job's
        current row holds the node whole when the job is on 2+ nodes with all of this one's."""
        if job.cpu_only or row.gpu_index is not None:
            return False
        run = self.idx.running.get(row.job)
        current = run is not None and run.rows.get(row.node) == row.gpus and run.holds_whole(row.node, info.gpus)
        return current or job.gpus_on(info.gpu_type) > info.gpus

    def has_room(self, node: str, cpu: int, memory: int) -> bool:
        return (self.cpu[node] is None or self.cpu[node] >= cpu) and \
               (self.memory[node] is None or self.memory[node] >= memory)

    def best_fit(self, pools: list[str], size: int, cpu: int = 0, memory: int = 0) -> str | None:
        """The node with the fewest free GPUs that still holds ``size`` (and the CPU and memory)."""
        best = None
        for pool in pools:
            for free in range(size, len(self.buckets[pool])):
                bucket = self.buckets[pool][free]
                if not bucket:
                    continue
                fitting = [n for n in bucket if self.has_room(n, cpu, memory) and n not in self.closed] \
                    if (cpu or memory or not size) else bucket
                if fitting:
                    node = min(fitting)
                    if best is None or (free, node) < best:
                        best = (free, node)
                    break
        return best[1] if best else None

    def best_share(self, pools: list[str], share: int, cpu: int, memory: int) -> tuple[str, int] | None:
        """The shared GPU whose leftover after ``share`` is smallest; else a fresh GPU on the
        best-fit node (its lowest index not shared yet)."""
        best = None
        for pool in pools:
            for (node, index), used in self.shared[pool].items():
                left = SHARE - used - share
                if left >= 0 and (best is None or (left, node, index) < best) and self.has_room(node, cpu, memory):
                    best = (left, node, index)
        if best is not None:
            return best[1], best[2]
        node = self.best_fit(pools, 1, cpu, memory)
        if node is None:
            return None
        pool = self.idx.nodes[node].pool
        taken = {index for (n, index) in self.shared[pool] if n == node}
        return node, next(i for i in range(self.idx.nodes[node].gpus) if i not in taken)

    def fits(self, node: str, size: int, cpu: int, memory: int) -> bool:
        return self.free[node] >= size and self.has_room(node, cpu, memory) and (size or node not in self.closed)

    def share_on(self, node: str, share: int, cpu: int, memory: int) -> int | None:
        """The fullest GPU of ``node`` that still takes ``share`` (or a fresh one), if any."""
        if not self.has_room(node, cpu, memory):
            return None
        pool = self.idx.nodes[node].pool
        used = {index: milli for (n, index), milli in self.shared[pool].items() if n == node}
        fitting = [(SHARE - milli - share, index) for index, milli in used.items() if milli + share <= SHARE]
        if fitting:
            return min(fitting)[1]
        if self.free[node] >= 1:
            return next(i for i in range(self.idx.nodes[node].gpus) if i not in used)
        return None

    def whole_nodes(self, pool: str) -> set[str]:
        """Nodes nothing runs on and nothing is reserved: only these go whole to a job."""
        return self.untouched[pool]
