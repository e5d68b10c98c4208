"""Runtime trackers (vrrp_script, track_file, vrrp_track_process) and script security."""
