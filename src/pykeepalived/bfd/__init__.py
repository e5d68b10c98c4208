"""BFD (RFC 5880/5881/5883): keepalived's bfd_instance sessions, run in the BFD child process."""
