"""Storage: the write-ahead log and the on-disk tiers of a table."""
