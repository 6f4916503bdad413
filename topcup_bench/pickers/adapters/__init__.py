"""Adapters: the field's own pickers, run by topcup-bench under one protocol.

Each adapter is a thin translation between our picker contract and a tool's
command line or API; the tool's logic stays in the tool.  Shared pieces:
:mod:`~topcup_bench.pickers.adapters.tool_process` (run a tool with a log, a
timeout and one clear line when it is missing) and
:mod:`~topcup_bench.pickers.adapters.tool_inputs` (write what a tool reads).
"""
