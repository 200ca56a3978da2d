"""`DataError`, apart from the data code so that modules that only report it (the run store, the CLI, a Ray
launcher) do not import torch: that import alone takes 1.5-2 s of a short command."""
from __future__ import annotations


class DataError(ValueError):
    """A dataset that cannot be loaded, with a message that names the file or folder and what is allowed."""
