"""pgbench's airspeed velocity suite, generated from the problem and solver registries.

See ``benchmarks/common.py`` and the README section "Timing regressions".
"""
