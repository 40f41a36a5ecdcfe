"""The scenario JSON Schema (scenarios/scenario.schema.json) accepts every shipped scenario and
refuses what the engine refuses; the engine agrees on the same bad files (exit 2)."""
import json

import jsonschema
import pytest
import yaml

from helpers import HOME

SCHEMA = json.loads((HOME / "scenarios" / "scenario.schema.json").read_text())


def test_the_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted((HOME / "scenarios").rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_validate(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


BAD = {
    "unknown-top-key": "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
                       "operations: all\nentry_paths: [https]\ncolour: blue\n",
    "beacon-both-kinds": "name: x\nbeacons: [{name: a, simulated: {}, url: 'https://h'}]\npolicy: {}\n"
                         "credentials: [valid]\noperations: all\nentry_paths: [https]\n",
    "bad-client-auth": "name: x\nbeacons: [{name: a, simulated: {client_auth: maybe}}]\npolicy: {}\n"
                       "credentials: [valid]\noperations: all\nentry_paths: [https]\n",
    "bad-entry-path": "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
                      "operations: all\nentry_paths: [telnet]\n",
    "simulated-typo": "name: x\nbeacons: [{name: a, simulated: {client_auht: require}}]\npolicy: {}\n"
                      "credentials: [valid]\noperations: all\nentry_paths: [https]\n",
    "pinned-with-crl": "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {trust_model: pinned-self-signed, "
                       "revocation: crl}\ncredentials: [valid]\noperations: all\nentry_paths: [https]\n",
    "bad-severity": "name: x\nbeacons: [{name: a, simulated: {}}]\npolicy: {}\ncredentials: [valid]\n"
                    "operations: all\nentry_paths: [https]\nexpect_findings: [{severity: BAD, beacon: a, credential: none}]\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_schema_and_engine_both_refuse(harness, tmp_path, name):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(BAD[name]), SCHEMA)
    f = tmp_path / f"{name}.yaml"
    f.write_text(BAD[name])
    p = harness("run", "--list", f)
    assert p.returncode == 2 and f.name.encode() in p.stderr
