"""What is free on every node while a heuristic places jobs one by one: whole GPUs, CPU, host
memory and the shares of GPUs being shared.

Every query the greedy asks is answered from sorted structures kept up to date by
:meth:`ClusterState.take`, so that one placement costs O(log nodes), not a scan of the cluster:

- the nodes of each set of pools the greedy asks about (one GPU class), sorted by (free GPUs,
  name), made on the first question (best fit: the first entry from ``size`` up whose node
  has room);
- the shared GPUs per pool sorted by (free share, node, index) (best share: the first entry
  with enough free share whose node has room);
- per node its shared GPUs (a node's fullest fitting GPU, its lowest unshared index);
- the untouched nodes per pool, sorted by name (whole nodes for multi-node jobs).

Ties break as a full scan would: the smallest (free, node) or (left share, node, index)."""

from __future__ import annotations

from collections import defaultdict

from sortedcontainers import SortedList

from ...index.assignment import AssignmentIndex
from ...index.node_grant import NodeGrant

SHARE = 1000


class ClusterState:
    def __init__(self, idx: AssignmentIndex, rows: list[NodeGrant]):
        self.idx = idx
        self.free: dict[str, int] = {}                                    # whole GPUs free
        self.cpu: dict[str, int | None] = {}
        self.memory: dict[str, int | None] = {}
        self.shared: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)  # pool -> (node, GPU) -> milli
        self.node_shares: dict[str, dict[int, int]] = defaultdict(dict)   # node -> GPU -> milli used
        self.by_free_share: dict[str, SortedList] = defaultdict(SortedList)  # pool -> (free milli, node, GPU)
        self.pool_nodes = {pool.id: [] for pool in idx.pools.values()}
        self.by_free: dict[tuple[str, ...], SortedList] = {}   # pools -> (free GPUs, node) of their nodes
        self.lists_of: dict[str, list[SortedList]] = defaultdict(list)  # pool -> the lists holding its nodes
        self.untouched = {pool.id: SortedList() for pool in idx.pools.values()}   # nothing on it, nothing reserved
        self.closed: set[str] = set()                                      # held whole by a multi-node job
        untouched = defaultdict(list)                                      # loaded in bulk below
        for node, info in idx.nodes.items():
            if info.pool in self.pool_nodes:
                self.cpu[node], self.memory[node] = info.cpu_milli, info.host_memory_mib
                self.free[node] = info.usable_gpus
                self.pool_nodes[info.pool].append(node)
                if info.reserved_gpus == 0 and info.gpus:
                    untouched[info.pool].append(node)
        for pool, nodes in untouched.items():
            self.untouched[pool].update(nodes)
        for row in rows:
            self.take(row)

    def _set_free(self, node: str, free: int) -> None:
        pool = self.idx.nodes[node].pool
        for ranked in self.lists_of.get(pool, ()):
            ranked.discard((self.free[node], node))
            ranked.add((free, node))
        self.free[node] = free

    def take(self, row: NodeGrant) -> None:
        job, info = self.idx.instance_job(row.job), self.idx.nodes[row.node]
        self.untouched[info.pool].discard(row.node)
        if row.gpu_index is not None:
            self._add_share(info.pool, row.node, row.gpu_index, job.gpu_share_milli)
        elif row.gpus:
            self._set_free(row.node, self.free[row.node] - row.gpus)
        if self._holds_whole(job, info, row):  # nothing else may run on the node
            self.closed.add(row.node)
        if self.cpu[row.node] is not None:
            self.cpu[row.node] -= job.cpu_milli
        if self.memory[row.node] is not None:
            self.memory[row.node] -= job.host_memory_mib

    def _add_share(self, pool: str, node: str, index: int, milli: int) -> None:
        shared, on_node, ranked = self.shared[pool], self.node_shares[node], self.by_free_share[pool]
        key = (node, index)
        if key not in shared:
            shared[key] = on_node[index] = 0
            self._set_free(node, self.free[node] - 1)
        else:
            ranked.remove((SHARE - shared[key], node, index))
        shared[key] += milli
        on_node[index] = shared[key]
        ranked.add((SHARE - shared[key], node, index))

    def _holds_whole(self, job, info, row: NodeGrant) -> bool:
        """A multi-node job's row: a new one needs more GPUs than the node has; a running job's
        current row holds the node whole when the job is on 2+ nodes with all of this one's."""
        if job.cpu_only or row.gpu_index is not None:
            return False
        run = self.idx.running.get(row.job)
        current = run is not None and run.rows.get(row.node) == row.gpus and run.holds_whole(row.node, info.gpus)
        return current or job.gpus_on(info.gpu_type) > info.gpus

    def _ranked(self, pools: list[str]) -> SortedList:
        key = tuple(pools)
        ranked = self.by_free.get(key)
        if ranked is None:
            distinct = set(pools)
            ranked = SortedList((self.free[n], n) for k in distinct for n in self.pool_nodes[k])
            self.by_free[key] = ranked
            for k in distinct:
                self.lists_of[k].append(ranked)
        return ranked

    def has_room(self, node: str, cpu: int, memory: int) -> bool:
        return (self.cpu[node] is None or self.cpu[node] >= cpu) and \
               (self.memory[node] is None or self.memory[node] >= memory)

    def best_fit(self, pools: list[str], size: int, cpu: int = 0, memory: int = 0) -> str | None:
        """The node with the fewest free GPUs that still holds ``size`` (and the CPU and memory);
        among those, the first by name."""
        ranked = self._ranked(pools)
        if not (cpu or memory or not size):  # no filter: the first entry from ``size`` up
            at = ranked.bisect_left((size,))
            return ranked[at][1] if at < len(ranked) else None
        return next((node for _, node in ranked.irange((size,))
                     if self.has_room(node, cpu, memory) and node not in self.closed), None)

    def best_share(self, pools: list[str], share: int, cpu: int, memory: int) -> tuple[str, int] | None:
        """The shared GPU whose leftover after ``share`` is smallest (then node, then index); else
        a fresh GPU on the best-fit node (its lowest index not shared yet)."""
        best = None
        for pool in pools:
            ranked = self.by_free_share.get(pool)
            if not ranked:
                continue
            # (free, node, index) ascending from ``share``: the first with room is this pool's best.
            for free, node, index in ranked.irange((share,)):
                if best is not None and free - share > best[0]:
                    break
                if self.has_room(node, cpu, memory):
                    if best is None or (free - share, node, index) < best:
                        best = (free - share, node, index)
                    break
        if best is not None:
            return best[1], best[2]
        node = self.best_fit(pools, 1, cpu, memory)
        if node is None:
            return None
        taken = self.node_shares.get(node, {})
        return node, next(i for i in range(self.idx.nodes[node].gpus) if i not in taken)

    def fits(self, node: str, size: int, cpu: int, memory: int) -> bool:
        return self.free[node] >= size and self.has_room(node, cpu, memory) and (size or node not in self.closed)

    def share_on(self, node: str, share: int, cpu: int, memory: int) -> int | None:
        """The fullest GPU of ``node`` that still takes ``share`` (or a fresh one), if any."""
        if not self.has_room(node, cpu, memory):
            return None
        used = self.node_shares.get(node, {})
        fitting = [(SHARE - milli - share, index) for index, milli in used.items() if milli + share <= SHARE]
        if fitting:
            return min(fitting)[1]
        if self.free[node] >= 1:
            return next(i for i in range(self.idx.nodes[node].gpus) if i not in used)
        return None

    def whole_nodes(self, pool: str) -> SortedList:
        """Nodes nothing runs on and nothing is reserved, by name: only these go whole to a job."""
        return self.untouched[pool]
