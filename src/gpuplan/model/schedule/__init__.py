"""The schedule problem: its blocks (jobs, services, nodes) and its solve strategy."""
