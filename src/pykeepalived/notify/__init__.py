"""Runtime notifications: notify scripts, notify FIFOs, SMTP alerts."""
