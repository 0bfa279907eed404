"""Checks of the places and values a sweep will write, done before any work starts, so that a
bad results folder or an unstorable value fails in a second with one line instead of after
the runs (and with nothing stored).

* :func:`writable_dir`: the folder exists or can be created, a probe file can be written and
  removed, and the disk has room.
* :func:`storable`: the run's metadata goes into a parquet file (e.g. an integer >= 2**63 does not).
* :func:`targets`: every run's place in the store can take its file (:func:`pgbench.store.check_target`).
* :func:`scheduler`: a Dask scheduler address or scheduler file that can be reached in time.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd

from . import store
from .record import RunMeta, RunRecord
from .registry import InvalidSettingError

#: free space a results folder needs (a run file is tens of kilobytes)
MIN_FREE_BYTES = 1 << 20


def writable_dir(path, what: str = "results folder") -> Path:
    """``path`` as a Path after checking that files can be written there: it is not empty, it is
    (or is made) a directory, a probe file can be created, written and removed, and at least
    :data:`MIN_FREE_BYTES` are free. Raises InvalidSettingError with the reason. Call it after the
    other input checks, right before work: it creates the folder."""
    if path is None or not str(path).strip():
        raise InvalidSettingError(f"the {what} must be a path, not an empty string")
    p = Path(path)
    probe = p / f".pgbench-probe-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        if p.exists() and not p.is_dir():
            raise InvalidSettingError(f"the {what} {p} is a file, not a directory")
        # the folder stays: removing it again could pull it away from a concurrent sweep
        p.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
        free = shutil.disk_usage(p).free
    except OSError as e:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
        shown = str(p) if len(str(p)) <= 120 else str(p)[:100] + "..."
        raise InvalidSettingError(f"the {what} {shown} is not writable: {e.strerror or e}") from None
    if free < MIN_FREE_BYTES:
        raise InvalidSettingError(f"the {what} {p} has only {free} bytes free")
    return p


def storable(p) -> None:
    """Raise InvalidSettingError if the run of plan ``p`` could not be stored (every value is
    written to an in-memory parquet file, as :func:`pgbench.store.save` would)."""
    meta = p.meta
    try:
        rec = RunRecord(RunMeta.from_dict(meta), pd.DataFrame(), "ok", run_key=p.run_key)
        store.write_frame(rec.to_frame(), io.BytesIO())
    except Exception as e:
        raise InvalidSettingError(
            f"run {meta.get('problem')} × {meta.get('solver')} seed {meta.get('seed')} "
            f"cannot be stored: {type(e).__name__}: {e}"
        ) from None


def targets(plans, root) -> None:
    """Raise InvalidSettingError (one line, naming the first places and how many) unless every
    plan's run can be written at its place under ``root`` (:func:`pgbench.store.check_target`: no
    file where its problem folder goes, that folder writable, no directory where its files go, no
    symlink leading out of the store)."""
    problems: list[str] = []
    for p in plans:
        try:
            store.check_target(p, root)
        except store.StorePathError as e:
            if str(e) not in problems:
                problems.append(str(e))
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise InvalidSettingError(f"cannot store runs: {'; '.join(problems[:3])}{more}")


def scheduler(address, timeout: float = 10.0) -> None:
    """Raise InvalidSettingError unless the Dask scheduler at ``address`` (``tcp://host:port`` or a
    scheduler JSON file) answers within ``timeout`` seconds. Cluster objects pass unchecked."""
    if not isinstance(address, (str, os.PathLike)):
        return
    text = str(address)
    if text.endswith(".json"):
        if not Path(text).is_file():
            raise InvalidSettingError(f"no Dask scheduler file {text} (written by `dask scheduler --scheduler-file`)")
        import json

        try:
            text = json.loads(Path(text).read_text())["address"]
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidSettingError(f"Dask scheduler file {address} holds no address: {e}") from None
    import asyncio

    from distributed.comm import connect

    async def probe():
        comm = await connect(text, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(probe())
    except Exception as e:
        reason = " ".join(str(e).split())[:200]
        raise InvalidSettingError(
            f"cannot reach the Dask scheduler {address} within {timeout:g} s ({type(e).__name__}: {reason})"
        ) from None


__all__ = ["writable_dir", "storable", "targets", "scheduler", "MIN_FREE_BYTES"]
