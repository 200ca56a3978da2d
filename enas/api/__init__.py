"""The Python way in, for notebooks and scripts: the same engine, run store and figures as the app and the CLI.

    from enas import api
    run = api.search("quick", epochs=4, seed=0)   # in the foreground, with a progress bar
    run                                           # in a notebook: its summary card and curves
    run.derive(); run.train(mode="finetune")      # the best child on validation, then trained
    run.events("epoch")                           # every event of one kind, as a pandas DataFrame

`search` starts a run (`background=True`: in a thread, with `pause`, `resume`, `stop`, `wait`), `open_run` opens a
stored one; both give a `Run`. In a notebook an `Architecture` renders as its chain picture (`picture`), a run as
its summary card, a rank check as its scatter. Bad input raises the CLI's own errors (`ConfigError`,
`StoreError`, `DataError`), with the same messages.
"""
from enas.api.display import picture, show_architectures_as_pictures
from enas.api.run import RankCheck, Run, open_run, search

show_architectures_as_pictures()
__all__ = ["search", "open_run", "Run", "RankCheck", "picture"]
