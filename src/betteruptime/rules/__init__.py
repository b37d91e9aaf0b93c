"""Pure rules of the monitor (status, and later incidents): no I/O, no project imports."""
