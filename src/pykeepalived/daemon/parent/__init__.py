"""The parent process (keepalived's main process): the watchdog that starts, signals and respawns the
children (watchdog.py), forking them (forkchild.py), its own files and timed reloads (parent_files.py),
the startup and shutdown scripts (startstop.py)."""
