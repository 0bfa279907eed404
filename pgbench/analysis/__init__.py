"""Analysis of stored runs: pure functions from runs to frames, no files, no printing, no plots.

* :mod:`.measures`: per-run quantities (final error, first iteration reaching a target, …)
* :mod:`.summary`: the one reduction of a run to a row (:func:`~.summary.summarize`) and its tables
* :mod:`.targets`: the named target policies and their one resolver
* :mod:`.profiles`: performance profiles (Dolan & Moré)
* :mod:`.leaderboard`, :mod:`.headline`, :mod:`.table1`: the tables built from those
* :mod:`.data`: curves, time per iteration and reference methods for the report's figures

Rendering (Markdown, HTML, figures, terminal) lives in :mod:`pgbench.report` and
:mod:`pgbench.terminal`.
"""
