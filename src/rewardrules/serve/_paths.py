"""The files the playground may touch: only inside its folder, by relative name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

PROGRAM_SUFFIXES: Final = (".yaml", ".yml")
HISTORY_SUFFIXES: Final = (".csv", ".jsonl", ".json", ".parquet")
MAX_LISTED: Final = 500
"""At most this many files of each sort are listed (a folder of thousands is not a playground)."""
_SKIPPED: Final = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__"})


class OutsideFolderError(ValueError):
    """A name that points outside the folder, or at something that is not a plain file."""


class MissingFileError(OutsideFolderError):
    """A name inside the folder that is not an existing regular file."""


@dataclass(frozen=True, slots=True)
class Folder:
    """The folder served; every name the page sends is resolved here, or refused."""

    root: Path

    @classmethod
    def at(cls, path: Path) -> Folder:
        """The folder at ``path``, with its symlinks resolved once."""
        return cls(path.resolve(strict=True))

    def resolve(self, name: str, *, must_exist: bool = True) -> Path:
        """The path of ``name``, a relative, slash-separated name inside the folder.

        Raises:
            OutsideFolderError: ``name`` is absolute, climbs with ``..``, names a link that leads
                out of the folder, or (with ``must_exist``) is not an existing regular file.
        """
        if not name or "\x00" in name or "\\" in name or len(name) > 1000:
            raise OutsideFolderError(f"{name!r} is not a file name inside the folder")
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or Path(name).is_absolute():
            raise OutsideFolderError(f"{name!r}: only files inside the served folder can be used")
        path = self.root.joinpath(*relative.parts)
        # resolve() follows every link: a link inside the folder that leads out is refused.
        real = path.resolve(strict=False)
        if not real.is_relative_to(self.root):
            raise OutsideFolderError(f"{name!r} leads outside the served folder")
        if must_exist and not real.is_file():
            raise MissingFileError(f"{name!r} is not a file in the served folder")
        return real

    def listing(self) -> tuple[list[str], list[str]]:
        """The program files and the history files in the folder, by relative name."""
        programs: list[str] = []
        histories: list[str] = []
        for directory, folders, files in os.walk(self.root):
            folders[:] = sorted(name for name in folders if name not in _SKIPPED)
            for file in sorted(files):
                path = Path(directory) / file
                if path.is_symlink() and not path.resolve().is_relative_to(self.root):
                    continue
                name = path.relative_to(self.root).as_posix()
                lower = file.lower()
                if lower.endswith(PROGRAM_SUFFIXES) and len(programs) < MAX_LISTED:
                    programs.append(name)
                elif (
                    lower.endswith(HISTORY_SUFFIXES)
                    and not lower.endswith(".expected.json")
                    and len(histories) < MAX_LISTED
                ):
                    histories.append(name)
        return programs, histories
