"""The models tests serve through the platform's MLServer, as the promotion tests do."""

from tests.promotion.conftest import model_server  # noqa: F401 (the fixture, shared)
