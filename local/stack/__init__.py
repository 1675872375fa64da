"""The running local stack: wiring it together, in the foreground or the background, crash recovery, ports, logs and
`make demo`."""
