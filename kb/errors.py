"""The few exceptions the library raises; front ends turn them into one clear line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # records import nothing from here, but the library's errors stay importable alone
    from kb.records import Crisis


class KBError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class InputError(KBError):
    """A corpus file, directory entry or question is invalid."""


class IndexMismatchError(KBError):
    """The index on disk was built differently (model, dimension, format) or is missing."""


class IndexBusyError(KBError):
    """Another build holds the index lock."""


class CrisisAnswerError(KBError):
    """Answering failed after a crisis was detected: front ends show the crisis first, then this error."""

    def __init__(self, message: str, crisis: Crisis):
        super().__init__(message)
        self.crisis = crisis


class StorageError(KBError):
    """The index folder cannot be written (disk full, read-only, no permission)."""
