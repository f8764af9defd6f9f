"""User-facing problems: one type for every mistake floe reports.

A :class:`Diagnostic` is one line a user reads, ``file:line:col: dotted.path: message``.
Code that finds mistakes collects them in a :class:`Report` so that *all* problems of a file
are shown at once; :class:`FloeError` carries a batch of them to the CLI, which prints them
and exits 1 without a traceback.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Iterator, Sequence

import attrs

#: A position in a YAML document: ``(line, column)``, both 1-based.
Position = tuple[int, int]
#: A path into a document: mapping keys and sequence indexes.
DocPath = tuple["str | int", ...]

_ONE_LINE = {code: f"\\x{code:02x}" for code in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t"}

ERROR = "error"
WARNING = "warning"


def dotted(path: DocPath) -> str:
    """Render a document path the way users write it: ``catalogs.default.uri``, ``transforms[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_of(choices: Iterable[str], ordered: bool = False) -> str:
    """Human list of valid names: ``a, b or c``; sorted, or in the given order when ``ordered``
    (layers read bronze, silver, gold)."""
    items = list(dict.fromkeys(map(str, choices))) if ordered else sorted({str(c) for c in choices})
    if not items:
        return "(none)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


@attrs.frozen(order=True)
class Diagnostic:
    """One problem found in user input.

    ``file`` is the path as the user named it, ``line``/``col`` are 1-based (0 when unknown),
    ``path`` is the dotted location inside the document. ``severity`` is ``"error"`` or
    ``"warning"``; only errors make a command fail.
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = self.file + (f":{self.line}:{self.col}" if self.file and self.line else "")
        prefix = "warning: " if self.severity == WARNING else ""
        path = f"{self.path}: " if self.path else ""
        # Messages raised before a file is known already start with what they are about.
        text = f"{where + ': ' if where else ''}{prefix}{path}{self.message}"
        # One diagnostic, one line: keys and values quoted from the file may hold line breaks.
        return text.translate(_ONE_LINE)

    def to_json(self) -> dict:
        """The machine-readable form used by ``--format json``."""
        return attrs.asdict(self)


class Report:
    """Collects the diagnostics of one document, locating each by its path.

    ``positions`` maps a document path to where it stands in the file; a path that is not
    there (a missing key) is located at its nearest existing parent.
    """

    def __init__(self, file: str = "", positions: dict[DocPath, Position] | None = None):
        self.file = file
        self.positions = positions or {}
        self.items: list[Diagnostic] = []

    def locate(self, path: DocPath) -> Position:
        """Where ``path`` (or its closest present ancestor) stands in the file."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (0, 0))

    def error(self, path: DocPath, message: str) -> None:
        """Record an error at ``path``."""
        self._add(path, message, ERROR)

    def warn(self, path: DocPath, message: str) -> None:
        """Record a warning at ``path``; warnings never fail a command."""
        self._add(path, message, WARNING)

    def _add(self, path: DocPath, message: str, severity: str) -> None:
        line, col = self.locate(path)
        self.items.append(Diagnostic(self.file, line, col, dotted(tuple(path)), message, severity))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Add diagnostics found elsewhere (another file, a plugin)."""
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == WARNING]

    def raise_if_errors(self) -> None:
        """Raise :class:`FloeError` with every diagnostic when any of them is an error."""
        if self.errors:
            raise FloeError(self.items)


class FloeError(Exception):
    """A batch of user mistakes. The CLI prints each and exits 1; never a traceback."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic("", 0, 0, "", diagnostics)]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)
