"""The feature processor: per-account windowed aggregates of transactions, emitted as feature vectors."""
