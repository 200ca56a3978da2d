"""The command line, `python -m enas ...`: the commands that run searches (`main`) and those that read and
write files (`files`: show, export, record, slides, delete). The top of the library: it may import any package,
and none imports it."""
