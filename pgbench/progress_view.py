"""The live view of a sweep in a terminal (``pgbench run``, ``sweep``, ``reproduce``): rich
progress bars, one per run (iteration, loss, x error) and one for the sweep (done, running,
diverged, failed, ETA); in a log (not a terminal) one line per finished run."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .numbers import fmt
from .terminal import duration, plain


class ProgressView:
    """A :func:`pgbench.sweep.run_sweep` progress callback that draws on ``console``; a context
    manager (the bars are live inside it)."""

    MAX_BARS = 12

    def __init__(self, n_tasks: int, console):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            refresh_per_second=5,
        )
        self.console, self.n_tasks, self.done = console, n_tasks, 0
        self.running: set[int] = set()
        self.failed = self.diverged = 0
        self.eta: float | None = None
        self.live = console.is_terminal
        self.bars: dict[int, int] = {}
        self.overall = self.progress.add_task("[bold]sweep", total=n_tasks, metrics="") if n_tasks > 1 else None

    def _bar(self, event):
        if event.index not in self.bars:
            self.bars[event.index] = self.progress.add_task(
                plain(event.task.name), total=event.total or None, metrics=""
            )
        return self.bars[event.index]

    def set_total(self, n_tasks: int) -> None:
        """The number of runs, once known (``reproduce`` learns it after the view is made)."""
        self.n_tasks = n_tasks
        if self.overall is None and n_tasks > 1:
            self.overall = self.progress.add_task("[bold]sweep", total=n_tasks, metrics="")

    def set_eta(self, seconds: float | None) -> None:
        """The estimated seconds left (``reproduce``'s plan), shown on the sweep line."""
        self.eta = seconds

    def counts(self) -> str:
        """``done 3 · running 2 · diverged 1 · failed 1 · ETA 4 min`` for the sweep line."""
        left = "" if self.eta is None else f" · ETA {duration(self.eta)}"
        return f"done {self.done} · running {len(self.running)} · diverged {self.diverged} · failed {self.failed}{left}"

    def __call__(self, event):
        if event.kind == "start":
            self.running.add(event.index)
        elif event.kind == "finish":
            self.running.discard(event.index)
            self.done += 1
            self.failed += event.outcome.status == "failed"
            self.diverged += event.outcome.status == "diverged"
        if not self.live:  # a log, not a terminal: one line per finished run
            if event.kind == "finish":
                o = event.outcome
                stored = " (stored)" if o.cached else ""
                self.console.print(
                    f"[{self.done}/{self.n_tasks or '?'}] {plain(event.task.name)}: {o.status}{stored}  "
                    f"iterations {fmt(o.iterations)}  loss {fmt(o.loss)}  x err {fmt(o.x_error)}  "
                    f"{fmt(o.wall_time)} s  ({self.counts()})",
                    highlight=False,
                )
            return
        bar = self._bar(event)
        if event.kind == "iteration":
            p = event.progress
            self.progress.update(
                bar,
                completed=p.iteration,  # update steps done (pgbench.measures)
                metrics=f"loss {fmt(p.loss)}  x err {fmt(p.x_error)}",
            )
        elif event.kind == "finish":
            o = event.outcome
            mark = {"ok": "[green]ok", "diverged": "[yellow]diverged", "failed": "[red]failed"}.get(o.status, o.status)
            stored = " (stored)" if o.cached else ""
            self.progress.update(
                bar,
                completed=event.total or 1,
                total=event.total or 1,
                description=f"{plain(event.task.name)}: {mark}[/]{stored}",
                metrics=f"loss {fmt(o.loss)}  x err {fmt(o.x_error)}",
            )
            if self.n_tasks > self.MAX_BARS:  # a long sweep: keep bars for running runs only
                self.progress.update(bar, visible=False)
                self.progress.console.print(
                    f"{plain(event.task.name)}: {mark}[/]{stored}  loss {fmt(o.loss)}  x err {fmt(o.x_error)}",
                    highlight=False,
                )
        if self.overall is not None:
            self.progress.update(self.overall, completed=self.done, metrics=self.counts())

    def __enter__(self):
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.progress.stop()
