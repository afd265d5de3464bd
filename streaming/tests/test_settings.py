"""Kafka authentication settings: what the chart's SCRAM listener needs, and a clear error when it is missing."""

from __future__ import annotations

import pytest
from mlstreaming.settings import StreamingSettings
from pydantic import ValidationError


def test_sasl_without_a_user_names_the_variables_to_set() -> None:
    with pytest.raises(ValidationError, match="MLP_STREAMING__KAFKA_USERNAME and MLP_STREAMING__KAFKA_PASSWORD"):
        StreamingSettings(kafka_security_protocol="SASL_PLAINTEXT")


def test_scram_credentials_reach_faust_and_the_admin_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_STREAMING__KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("MLP_STREAMING__KAFKA_USERNAME", "faust")
    monkeypatch.setenv("MLP_STREAMING__KAFKA_PASSWORD", "s3cret")
    settings = StreamingSettings()
    credentials = settings.broker_credentials()
    assert (credentials.username, credentials.password) == ("faust", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert settings.client_options() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "faust",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(settings)


def test_plaintext_needs_no_credentials() -> None:
    settings = StreamingSettings()
    assert settings.broker_credentials() is None
    assert settings.client_options() == {"security_protocol": "PLAINTEXT"}
