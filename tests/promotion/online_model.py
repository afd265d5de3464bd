"""A model logged as code (MLflow "models from code") for the canary tests: the scoring features in, fraud out.

Its `model_config` picks how it behaves online: `ok` (a logistic model of `amount > 100`), `fail` (a share of
requests raise), `slow` (every request sleeps first) or `shifted` (flags nearly every event as fraud). Offline
its run logs whatever metrics the test chose, so the promoter rates it as the test wants; online the judge
finds out.
"""

from __future__ import annotations

import random
import time
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class OnlineModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.config = dict(context.model_config or {})

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        mode = self.config.get("mode", "ok")
        if mode == "slow":
            time.sleep(float(self.config.get("delay", 0.1)))
        if mode == "fail" and random.random() < float(self.config.get("share", 0.5)):
            raise RuntimeError("injected failure of a bad canary")
        if mode == "shifted":
            return np.ones(len(model_input), dtype=int)
        return (model_input["amount"].to_numpy() > 100.0).astype(int)


mlflow.models.set_model(OnlineModel())
