"""Promote the best MLflow run by policy, record why on the model version, and roll it out."""
