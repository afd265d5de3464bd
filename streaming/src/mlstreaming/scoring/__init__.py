"""The scoring processor: feature vectors scored by the served model over the V2 inference protocol."""
