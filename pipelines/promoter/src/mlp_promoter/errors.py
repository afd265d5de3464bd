"""Errors the CLI turns into a clear message and a non-zero exit, without a traceback."""

from __future__ import annotations


class PromoterError(Exception):
    """Bad input (unknown experiment, missing metric, invalid policy): exit code 2."""

    exit_code = 2


class RolloutError(PromoterError):
    """The decision was taken but publishing it failed (server down, cluster refused): exit code 1."""

    exit_code = 1


class MeasurementError(PromoterError):
    """The judge could not read the canary's traffic (Prometheus down or refusing a query): exit code 1."""

    exit_code = 1
