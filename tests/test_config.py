"""The configuration model and the handling of secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from mlplatform.config import Settings, setting_env_name
from mlplatform.credentials import Credentials
from mlplatform.runtime import services
from mlplatform.runtime.supervisor import Supervisor
from pydantic import SecretStr


def test_nested_settings_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLP_HOME", str(tmp_path))
    monkeypatch.setenv("MLP_KAFKA__PORT", "19092")
    monkeypatch.setenv("MLP_POSTGRES__DATABASES", '["a", "b"]')
    settings = Settings()
    assert (settings.home, settings.kafka.port, settings.postgres.databases) == (
        tmp_path,
        19092,
        ["a", "b"],
    )


def test_to_env_reproduces_the_settings_without_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = Settings(home=tmp_path, mlflow={"port": 5999}, postgres={"password": SecretStr("s3cret")})
    env = original.to_env()
    assert "s3cret" not in "".join(env.values())
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rebuilt = Settings()
    assert rebuilt.model_dump(exclude={"postgres"}) == original.model_dump(exclude={"postgres"})
    assert rebuilt.postgres.port == original.postgres.port


def test_setting_env_name() -> None:
    assert setting_env_name("minio.console_port") == "MLP_MINIO__CONSOLE_PORT"


def test_generated_passwords_are_private_stable_and_overridable(tmp_path: Path) -> None:
    creds = Credentials(Settings(home=tmp_path))
    first = creds.postgres_password().get_secret_value()
    assert len(first) >= 24 and creds.postgres_password().get_secret_value() == first
    secret_file = tmp_path / "secrets" / "postgres-password"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    overridden = Credentials(Settings(home=tmp_path, postgres={"password": SecretStr("given")}))
    assert overridden.postgres_password().get_secret_value() == "given"


def test_supervisor_config_holds_no_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    supervisor = Supervisor(settings, services.build(settings))
    supervisor.write_config()
    text = supervisor.config_file.read_text()
    creds = Credentials(settings)
    for secret in (creds.postgres_password(), creds.minio_password()):
        assert secret.get_secret_value() not in text
    assert "[program:postgres]" in text and "stopsignal=INT" in text
    assert stat.S_IMODE(supervisor.config_file.stat().st_mode) == 0o600


def test_every_service_port_is_a_setting_an_isolated_instance_moves() -> None:
    settings = Settings()
    declared = {port.setting for service in services.build(settings) for port in service.ports()}
    from mlplatform.config import port_settings

    assert declared <= set(port_settings())


def test_every_cluster_port_is_a_setting_an_isolated_instance_moves() -> None:
    from mlplatform.cluster import components
    from mlplatform.config import port_settings

    declared = {port.setting for component in components.build(Settings()) for port in component.ports()}
    assert declared == {name for name in port_settings() if name.startswith("cluster.")}


def test_cluster_supervisor_runs_the_binaries_under_the_cluster_folder(tmp_path: Path) -> None:
    from mlplatform.cluster.control_plane import ControlPlane

    plane = ControlPlane(Settings(home=tmp_path))
    plane.supervisor.write_config()
    text = plane.supervisor.config_file.read_text()
    assert plane.supervisor.config_file.is_relative_to(tmp_path / "cluster")
    assert "identifier=mlp-cluster" in text and "mlplatform.runtime.launch" not in text
    assert f"command={plane.supervisor.settings.cache_dir}/tools/kubernetes-v1.37.2/kube-apiserver --bind" in text
