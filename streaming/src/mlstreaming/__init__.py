"""The platform's stream processors: transaction features (windowed aggregates) and online model scoring."""
