"""The deploy/ examples: valid YAML by yamllint, the Ansible playbook's syntax by
ansible-playbook, and every mtls-harness flag they pass exists (a typo in an example is a
failing test, not a failing site)."""
import re
import subprocess

from helpers import BIN, HOME

DEPLOY = HOME / "deploy"


def test_yamllint():
    p = subprocess.run(["yamllint", "-c", DEPLOY / ".yamllint", DEPLOY], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_ansible_syntax():
    p = subprocess.run(["ansible-playbook", "--syntax-check", "-i", DEPLOY / "ansible/inventory.example.ini",
                        DEPLOY / "ansible/probe-sites.yml"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "ANSIBLE_LOCAL_TEMP": "/tmp"})
    assert p.returncode == 0, p.stdout + p.stderr


def flags_of(command):
    help_text = subprocess.run([BIN, *command.split(), "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"(--[a-z0-9-]+)", help_text))


def test_every_flag_in_the_examples_exists():
    known = {"probe": flags_of("probe"), "merge": flags_of("report merge")}
    files = [p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml")]
    assert len(files) >= 4
    used = 0
    for f in files:
        text = f.read_text()
        # the argv list form (Ansible) and the command-line form (shells)
        text = re.sub(r"\n\s*- (--[a-z0-9-]+)", r" \1", text)
        for m in re.finditer(r"mtls-harness\s+(probe|report\s+merge)([^\n]*(?:\n\s+[^\n]*)*)", text):
            which = "probe" if m.group(1) == "probe" else "merge"
            for flag in re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", m.group(2)):
                assert flag in known[which], f"{f.name}: {flag} is not a flag of {m.group(1)}"
                used += 1
    assert used >= 20
