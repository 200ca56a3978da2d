"""Runs on disk and the views of them: the run store (`store`: events in SQLite, atomic checkpoints), the
runs folder (`listing`: list, name, delete), a run as a live view (`live`), replayed epoch by epoch (`replay`)
and saved as one file (`recording`). Imports the core and `quality` (the health checks `live` re-runs)."""
