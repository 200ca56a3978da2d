"""Is the search any good? Rank statistics with bootstrap intervals (`rank`), health warnings while a search
runs (`health`: collapse, stalling, no better than random) and the rank check of derive's architectures
(`rankcheck`). Imports only the core; it drives an engine it is handed, never one it imports."""
