"""Progress of a long command: a tqdm bar on a terminal; when piped, one plain line per item
(`done`) or nothing (`step`, e.g. evaluation, whose only output is its report)."""
from __future__ import annotations

import sys
from typing import IO, Iterable, Iterator, TypeVar

T = TypeVar("T")


class Progress:
    """`with Progress(total, "ocr") as p: ... p.done(name, ok, note)`; writes to stderr."""

    def __init__(self, total: int | None, desc: str, stream: IO[str] | None = None, bar: bool | None = None,
                 unit: str = "file"):
        self.stream = stream or sys.stderr
        self.desc = desc
        use_bar = self.stream.isatty() if bar is None else bar
        self._bar = None
        if use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, file=self.stream, unit=unit, dynamic_ncols=True)

    def done(self, name: str, ok: bool = True, note: str = "") -> None:
        """One item finished; failures are always printed, successes as lines only when piped."""
        line = f"{self.desc}: {'ok' if ok else 'FAILED'} {name}" + (f": {note}" if note else "")
        if self._bar is not None:
            if not ok:
                self._bar.write(line, file=self.stream)
            self._bar.update(1)
        else:
            print(line, file=self.stream, flush=True)

    def log(self, text: str, file: IO[str] | None = None) -> None:
        """A line of the command's own output (stdout by default), printed above the bar."""
        file = file or sys.stdout
        if self._bar is not None:
            self._bar.write(text, file=file)
        else:
            print(text, file=file, flush=True)

    def step(self) -> None:
        """One item finished, with nothing to say about it (no line when piped)."""
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[T], desc: str, total: int | None = None, name=str, unit: str = "file",
          lines: bool = True, stream: IO[str] | None = None) -> Iterator[T]:
    """Yield `items` while reporting each one as done (for loops in existing commands); when
    piped, a line per item, or nothing with `lines=False`."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, stream, unit=unit) as progress:
        for item in items:
            yield item
            if lines:
                progress.done(name(item))
            else:
                progress.step()
