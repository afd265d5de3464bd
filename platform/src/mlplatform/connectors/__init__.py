"""Kafka Connect connectors as code: definitions in files, applied over Connect's REST API."""
