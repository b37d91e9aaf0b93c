"""The region worker: read jobs, check concurrently, write ticks in batches, then ack."""
