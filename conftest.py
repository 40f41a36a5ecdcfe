"""Project-root pytest configuration: loads the mtls-harness scenario plugin (python/), so that
`pytest scenarios/` and `pytest --mtls-scenarios DIR` work from the project root."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent / "python"))
pytest_plugins = ["mtls_harness_pytest"]
