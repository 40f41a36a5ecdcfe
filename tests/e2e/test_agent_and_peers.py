"""The simulated agent against the simulated beacon, cross-checked with peers no one here wrote
(the curl CLI and `openssl s_client`): all three must agree on accepted vs rejected, and agree
with the PKI manifest's expectation for a beacon that requires a client certificate."""
import hashlib
import json

import pytest

import helpers
from helpers import HOME
from helpers import credential_args

POLICY_FILE = HOME / "fixtures" / "content" / "ManageSoftDL" / "Policies" / "default.npl"


def agent_json(harness, beacon, pki, manifest, credential, *extra):
    return helpers.agent_json(harness, beacon.url, pki, manifest, credential, *extra)


def test_valid_certificate_is_accepted_with_the_payload_verified(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    digest = hashlib.sha256(POLICY_FILE.read_bytes()).hexdigest()
    rc, rec = agent_json(harness, beacon, pki, manifest, "valid", "--expect-sha256", digest)
    assert rc == 0
    assert rec["outcome"] == "ACCEPTED"
    ev = rec["evidence"]
    assert ev["http_status"] == 200
    assert ev["payload_check"] == "sha256" and ev["payload_verified"] is True
    assert ev["payload_sha256"] == digest
    assert ev["handshake_completed"] is True
    beacon.stop()
    conn = beacon.connection_for(ev["local_port"])
    assert conn is not None, "the beacon logged no connection for the agent's port"
    assert conn["client_cert_verification"] == "ok"
    fingerprint = next(f["sha256"] for f in manifest["files"]
                       if f["path"] == manifest["credentials"]["valid"]["cert"])
    assert conn["client_cert"]["sha256"] == fingerprint


def test_no_certificate_is_rejected_in_the_handshake(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    rc, rec = agent_json(harness, beacon, pki, manifest, "none")
    assert rc == 1
    assert rec["outcome"] == "REJECTED_HANDSHAKE"
    ev = rec["evidence"]
    assert ev["tls_alert"] is not None and ev["handshake_completed"] is False
    assert ev["http_status"] is None and ev["bytes_received"] == 0
    beacon.stop()
    conn = beacon.connection_for(ev["local_port"])
    assert conn is not None
    assert conn["alert_sent"] == ev["tls_alert"], "agent and beacon disagree on the alert"
    assert conn["client_cert_verification"] == "absent" and conn["requests"] == 0


def test_expect_rejected_sets_the_exit_code(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    rc, rec = agent_json(harness, beacon, pki, manifest, "none", "--expect", "REJECTED")
    assert rc == 0 and rec["expected"] == "REJECTED"
    rc, rec = agent_json(harness, beacon, pki, manifest, "valid", "--expect", "REJECTED")
    assert rc == 1 and rec["outcome"] == "ACCEPTED"


def curl_accepted(peer, beacon, pki, manifest, credential):
    return helpers.curl_accepted(peer, beacon.url, pki, manifest, credential)


def openssl_accepted(peer, beacon, pki, manifest, credential):
    return helpers.openssl_accepted(peer, beacon.port, pki, manifest, credential)


@pytest.mark.parametrize("credential", ["valid", "none"])
def test_curl_and_openssl_agree_with_our_agent(harness, peer, start_beacon, pki, manifest, credential):
    beacon = start_beacon("require")
    _, rec = agent_json(harness, beacon, pki, manifest, credential)
    ours = rec["outcome"] == "ACCEPTED"
    expected = manifest["credentials"][credential]["expected"]["require"] == "ACCEPTED"
    assert ours == expected, f"our agent: {rec['outcome']}, manifest expects {expected}"
    assert curl_accepted(peer, beacon, pki, manifest, credential) == ours, "curl CLI disagrees"
    assert openssl_accepted(peer, beacon, pki, manifest, credential) == ours, "openssl s_client disagrees"


def test_ignore_mode_lets_everyone_in_and_the_peers_see_it_too(harness, peer, start_beacon, pki, manifest):
    # The negative of the check above: the same tools must see the door open when it is open.
    beacon = start_beacon("ignore")
    _, rec = agent_json(harness, beacon, pki, manifest, "none")
    assert rec["outcome"] == "ACCEPTED"
    assert curl_accepted(peer, beacon, pki, manifest, "none")
    assert openssl_accepted(peer, beacon, pki, manifest, "none")


def test_no_key_material_in_any_output_or_log(harness, start_beacon, pki, manifest):
    beacon = start_beacon("require")
    outputs = []
    for cred in ("valid", "none"):
        p = harness("agent", "--beacon", beacon.url, "--ca", pki / manifest["trust"]["server_ca_bundle"],
                    *credential_args(manifest, pki, cred), "--op", "download-policy", "--json")
        outputs += [p.stdout, p.stderr]
    beacon.stop()
    outputs += [beacon.log.read_bytes(), beacon.stderr_path.read_bytes()]
    for key_file in pki.rglob("*.key"):
        body = b"".join(l for l in key_file.read_bytes().splitlines() if not l.startswith(b"-----"))
        for chunk in (body[i:i + 24] for i in range(0, len(body) - 24, 24)):
            for out in outputs:
                assert chunk not in out, f"material of {key_file.name} leaked"
