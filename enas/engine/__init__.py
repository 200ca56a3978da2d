"""Where a search happens: the search loop (`search`: `Engine`), derive and final training of one child
(`children`), and pause, resume, stop, single steps and steering requests from other threads (`control`).
Imports the core, `data`, `quality` and `runs`; never `scale`, `teach`, `cli` or a screen."""
