"""Progress bars and log lines of a run (rich, on stderr; plain lines when not a terminal)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Ui:
    """One progress bar per scenario part; ``note`` logs a line above the bars."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> Ui:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[None]:
        """A bar of ``total`` steps; completed when the block ends, however many ran."""
        task = self.progress.add_task(description, total=total)
        previous, self._task = self._task, task
        try:
            yield
        finally:
            self.progress.update(task, completed=total)
            self._task = previous

    def advance(self, text: str = "") -> None:
        """One step of the current bar is done; ``text`` says how it went."""
        if self._task is not None:
            self.progress.advance(self._task)
        if text:
            self.note(text)

    def note(self, text: str) -> None:
        """A log line."""
        self.console.log(text)
