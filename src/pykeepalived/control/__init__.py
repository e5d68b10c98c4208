"""Operations interfaces of the daemon: Prometheus metrics, the control socket, sd_notify, pykeepalivedctl."""
