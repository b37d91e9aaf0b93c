"""The check queue: one stream of check jobs, one consumer group per region."""
