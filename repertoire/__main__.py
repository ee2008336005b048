"""Run the command line as ``python -m repertoire`` (how the workflow's rules run each step)."""

from __future__ import annotations

import atexit
import os
import sys

from .cli import main


def _observed() -> bool:
    """Whether a profiler or tracer (cProfile, a debugger, coverage) watches this process."""
    monitoring = getattr(sys, "monitoring", None)
    return bool(sys.getprofile() or sys.gettrace() or (
        monitoring is not None and any(monitoring.get_tool(tool) for tool in range(6))))


status = main()
# The step's outputs are written and closed. Run the exit handlers (log and file flushes),
# then leave without tearing down every imported module one by one: after scanpy's imports
# that takes about a second, which every job of the workflow would pay. A watched process
# exits as usual, so that its watcher can write its report.
run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
if run_exit_handlers is None or _observed():
    raise SystemExit(status)
run_exit_handlers()
sys.stdout.flush()
sys.stderr.flush()
os._exit(status)
