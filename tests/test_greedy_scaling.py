"""The sorted structures behind the greedy and FGD give the answers of a full scan.

The greedy's ClusterState answers best fit and best share from sorted lists kept up to date
placement by placement; the FGD measure evaluates equal node states once. Both are checked
here against the plain scan they replaced, on random sequences and states."""

from __future__ import annotations

import numpy as np
import pytest

from builders import cluster, job, pool
from gpuplan.fragmentation.measure import Workload, _node_fragmentation, node_fragmentation
from gpuplan.heuristics.assignment.state import SHARE, ClusterState
from gpuplan.index.assignment import build_index
from gpuplan.index.node_grant import NodeGrant


def _scan_best_fit(state, pools, size, cpu, memory):
    check = cpu or memory or not size
    fitting = [(state.free[n], n) for n, info in state.idx.nodes.items()
               if info.pool in pools and state.free[n] >= size
               and (not check or (state.has_room(n, cpu, memory) and n not in state.closed))]
    return min(fitting)[1] if fitting else None


def _scan_best_share(state, pools, share, cpu, memory):
    shared = [(SHARE - used - share, node, index) for k in pools for (node, index), used in state.shared[k].items()
              if used + share <= SHARE and state.has_room(node, cpu, memory)]
    if shared:
        return min(shared)[1:]
    node = _scan_best_fit(state, pools, 1, cpu, memory)
    if node is None:
        return None
    taken = {index for (n, index) in state.shared[state.idx.nodes[node].pool] if n == node}
    return node, min(set(range(state.idx.nodes[node].gpus)) - taken)


def _instance(seed: int):
    rng = np.random.default_rng(seed)
    pools = [{**pool("a", "A", 4, 3), "cpu_milli_per_node": 8000}, {**pool("b", "A", 8, 2), "cpu_milli_per_node": 8000},
             {**pool("c", "A", 2, 4), "cpu_milli_per_node": 4000}]
    jobs = []
    for i in range(40):
        cpu = int(rng.choice([0, 500, 1500]))
        if rng.random() < 0.5:
            jobs.append(job(f"s{i}", {"A": 1}, gpu_share_milli=int(rng.choice([200, 300, 500, 700])), cpu_milli=cpu))
        else:
            jobs.append(job(f"w{i}", {"A": int(rng.choice([1, 2, 3]))}, cpu_milli=cpu))
    return cluster(pools, jobs)


@pytest.mark.parametrize("seed", range(6))
def test_best_fit_and_best_share_are_those_of_a_full_scan(seed):
    idx = build_index(_instance(seed))
    state = ClusterState(idx, [])
    pools = ["a", "b", "c"]
    answered = 0
    for j in idx.instance.jobs:
        if j.fractional:
            found = state.best_share(pools, j.gpu_share_milli, j.cpu_milli, j.host_memory_mib)
            assert found == _scan_best_share(state, pools, j.gpu_share_milli, j.cpu_milli, j.host_memory_mib)
            # the node's own fullest fitting GPU agrees with the cluster-wide choice on that node
            if found is not None:
                assert state.share_on(found[0], j.gpu_share_milli, j.cpu_milli, j.host_memory_mib) is not None
                state.take(NodeGrant(j.id, found[0], 1, found[1]))
        else:
            size = j.gpus_on("A")
            for subset in (pools, ["b", "a"], ["c"]):
                assert state.best_fit(subset, size, j.cpu_milli, 0) == _scan_best_fit(state, subset, size, j.cpu_milli, 0)
            found = state.best_fit(pools, size, j.cpu_milli, 0)
            if found is not None:
                state.take(NodeGrant(j.id, found, size))
        answered += found is not None
    assert answered > 20   # the cluster fills up: later answers come from changed lists


def test_equal_node_states_evaluated_once_give_the_row_by_row_values():
    rng = np.random.default_rng(3)
    types = 12
    workload = Workload(cpu=rng.choice([0, 1000, 4000], types), mem=rng.choice([0, 2048, 8192], types),
                        gpus=rng.choice([0, 1, 2, 4], types), milli=rng.choice([250, 500, 1000], types),
                        allowed=rng.random((types, 3)) < 0.7, popularity=np.full(types, 1 / types))
    rows = 300   # above the size from which equal states are grouped; few distinct states
    node_type = rng.integers(0, 3, rows)
    cpu = rng.choice([500, 1000, 3000, 4000, 9000], rows)
    mem = rng.choice([1024, 2048, 8192, 10_000], rows)
    gpu = rng.choice([0, 250, 500, 750, 1000], (rows, 4))
    gpu[::2] = gpu[::2, ::-1]   # the same multisets in other GPU orders
    together = node_fragmentation(workload, node_type, cpu, mem, gpu)
    alone = np.array([_node_fragmentation(workload, node_type[n:n + 1], cpu[n:n + 1], mem[n:n + 1], gpu[n:n + 1])[0]
                      for n in range(rows)])
    assert np.array_equal(together, alone)
    assert len(np.unique(together)) > 5   # the states differ: the grouping had something to get wrong
