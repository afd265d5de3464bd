"""The model management API (`mlp-models-api`, pipelines/promoter) as a local service.

It runs in the promoter's environment, since its actions are the promoter's, against this platform: the
registry on MLflow, the `local` target (the model server and its repository folder), Airflow for pausing
retraining (as its admin) and Prometheus. `mlp models` calls it. With `models_api.require_token` every call
needs the token generated into the secrets folder.
"""

from __future__ import annotations

import json

from mlplatform.runtime.service import Endpoint, Port, Service
from mlplatform.runtime.services.airflow import Airflow
from mlplatform.runtime.services.model_server import ModelServer

#: The secret the API requires when `models_api.require_token` is set.
TOKEN = "models-api-token"


class ModelsApi(Service):
    name = "models-api"

    def ports(self) -> list[Port]:
        return [Port("models_api.port", self.settings.models_api.port)]

    def argv(self) -> list[str]:
        return [str(self.tools.python_env("promoter") / "bin" / "mlp-models-api")]

    def environment(self) -> dict[str, str]:
        s, host = self.settings, self.settings.host
        airflow = Airflow(s)
        server = ModelServer(s)
        variables = {
            "MLP_MODELS_API_HOST": host,
            "MLP_MODELS_API_PORT": str(s.models_api.port),
            "MLP_MODELS_API_TRACKING_URI": f"http://{host}:{s.mlflow.port}",
            "MLP_MODELS_API_TARGET": "local",
            "MLP_MODELS_API_TARGET_ARGS": json.dumps(
                [
                    "--server-url",
                    f"http://{host}:{s.model_server.port}",
                    "--model-repository",
                    str(server.repository),
                ]
            ),
            "MLP_MODELS_API_PROMETHEUS_URL": f"http://{host}:{s.prometheus.port}",
            "MLP_MODELS_API_AIRFLOW_URL": airflow.url(s.airflow.port),
            "MLP_MODELS_API_AIRFLOW_USER": s.airflow.admin_user,
            "MLP_MODELS_API_AIRFLOW_PASSWORD": airflow.admin_password(),
        }
        if s.models_api.require_token:
            variables["MLP_MODELS_API_TOKEN"] = self.credentials.generated(TOKEN).get_secret_value()
        return variables

    def is_ready(self) -> bool:
        return self.http_ok(self.settings.models_api.port, "/health")

    def endpoints(self) -> list[Endpoint]:
        port = self.settings.models_api.port
        return [Endpoint("Model management API (OpenAPI: /docs)", self.url(port, "/models"))]
