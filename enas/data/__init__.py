"""Datasets, from files to batches: the sources (`load`: cifar10, folder:PATH, shapes, auto), CIFAR-10's
archives (`cifar`), image folders (`folder`, decoded by `decode`), the built-in `shapes`, the stratified splits
(`splits`), the disk `cache`, the check of a dataset before a run (`check`) and batches on the device with
augmentation (`device`). Imports only the core (`enas.config`, `enas.seeds`, `enas.errors`): it knows nothing
of the search, the runs or the screens."""
