"""The errors that several packages report, apart from the code that raises them, so that a module that only
reports one (the run store, the CLI, a Ray launcher) imports no torch (that import alone takes 1.5-2 s of a
short command) and no package above it."""
from __future__ import annotations


class DataError(ValueError):
    """A dataset that cannot be loaded, with a message that names the file or folder and what is allowed."""


class StoreError(ValueError):
    """A run that cannot be opened or written, with a message that says why."""
