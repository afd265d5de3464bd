"""MLServer's MLflow runtime, with a 400 that names the problem for a request that does not fit the signature.

MLServer's own MLflow runtime hands any inputs to the model. When a column is missing, one is extra, one has
the wrong type or the columns differ in length, the model fails inside `predict`, and the client gets HTTP 500
with an empty body. A client cannot tell that from an outage: the scoring processor would retry the call and
open its circuit breaker. This runtime checks the request against the model's column signature first. A
request that does not fit gets HTTP 400 naming each problem and the signature the model expects, and the
processor dead-letters those events with that message. Models without a column signature are served as before.
"""

from __future__ import annotations

from mlflow.types.schema import ColSpec, Schema, TensorSpec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, RequestInput
from mlserver_mlflow import MLflowRuntime

_INTEGERS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
_NUMBERS = {"FP16", "FP32", "FP64", *_INTEGERS}
#: The V2 datatypes each MLflow column type accepts (integers widen into floating point, as pandas does).
ACCEPTED = {
    "double": _NUMBERS,
    "float": _NUMBERS,
    "long": _INTEGERS,
    "integer": _INTEGERS,
    "boolean": {"BOOL"},
    "string": {"BYTES"},
    "binary": {"BYTES"},
    "datetime": {"BYTES"},
}


class InvalidInputs(MLServerError):  # type: ignore[misc]
    """The request's inputs do not fit the model's signature: the client's to fix, not the server's."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400)


def _type_name(column: ColSpec | TensorSpec) -> str:
    return str(getattr(column.type, "name", column.type))


def _datatype(request_input: RequestInput) -> str:
    """The input's V2 datatype name (MLServer keeps the enum's value on parsed requests)."""
    return str(getattr(request_input.datatype, "value", request_input.datatype))


def describe(schema: Schema) -> str:
    """The signature as a client needs it: `name (type)` for each column, optional ones marked."""
    return ", ".join(
        f"{column.name} ({_type_name(column)}{'' if column.required else ', optional'})" for column in schema.inputs
    )


def problems(schema: Schema, payload: InferenceRequest) -> list[str]:
    """What keeps `payload` from fitting a column signature: missing, extra and mistyped inputs, uneven lengths."""
    columns = {column.name: column for column in schema.inputs if isinstance(column, ColSpec) and column.name}
    given = {request_input.name: request_input for request_input in payload.inputs}
    found = []
    missing = [name for name, column in columns.items() if column.required and name not in given]
    if missing:
        found.append(f"missing input(s): {', '.join(missing)}")
    extra = [name for name in given if name not in columns]
    if extra:
        found.append(f"unknown input(s): {', '.join(extra)}")
    mistyped = [
        f"{name} is {_datatype(given[name])}, expected {_type_name(column)}"
        for name, column in columns.items()
        if name in given and _type_name(column) in ACCEPTED
        if _datatype(given[name]) not in ACCEPTED[_type_name(column)]
    ]
    if mistyped:
        found.append(f"mistyped input(s): {'; '.join(mistyped)}")
    lengths = {name: request_input.shape[0] if request_input.shape else 0 for name, request_input in given.items()}
    if len(set(lengths.values())) > 1:
        found.append(f"inputs of different lengths: {', '.join(f'{name} {n}' for name, n in lengths.items())}")
    return found


class CheckedMLflowRuntime(MLflowRuntime):  # type: ignore[misc]  # mlserver_mlflow ships no type hints
    """MLflowRuntime that answers a request which does not fit the model's column signature with a 400."""

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        signature = getattr(self, "_signature", None)
        schema = signature.inputs if signature is not None else None
        if schema is not None and not schema.is_tensor_spec() and schema.has_input_names():
            found = problems(schema, payload)
            if found:
                raise InvalidInputs(
                    f"the request does not fit model {self.name} version {self.version}: {'; '.join(found)}. "
                    f"It expects one input per column: {describe(schema)} (GET /v2/models/{self.name} lists them)"
                )
        response: InferenceResponse = await super().predict(payload)
        return response
