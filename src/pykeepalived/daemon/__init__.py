"""The wiring of the cores to the Linux layer, laid out by process: main.py (the entry point: the
parent, or the child `--child=ROLE` asks for), parent/, vrrp/, checker/ and bfd/ (each process's own
modules, independent of each other), and here what they share: the serve loop and signals (serve.py),
logging (log.py), pid files, process settings, the state and dump files, trackers and notifies
(trackers.py), the BFD event pipes (bfd_events.py). The import-linter contracts in pyproject.toml hold
this layout."""
