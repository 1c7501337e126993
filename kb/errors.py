"""The few exceptions the library raises; front ends turn them into one clear line."""

from __future__ import annotations


class KBError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class InputError(KBError):
    """A corpus file, directory entry or question is invalid."""


class IndexMismatchError(KBError):
    """The index on disk was built differently (model, dimension, format) or is missing."""


class IndexBusyError(KBError):
    """Another build holds the index lock."""
