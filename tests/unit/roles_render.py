"""Render role templates with Ansible's own templating (filters, lookups), for the unit tests.

Not a test module: helpers shared by tests/unit/test_manifests*.py. Variables come from the
role's defaults/main.yml and vars/main.yml, overridden by the caller, like a play would.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"

BASE_VARS = {
    "spectrojobs_namespace": "spectrojobs",
    "playbook_dir": str(ROOT / "playbooks"),
}


def role_defaults(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}


_LOADER_READY = []


def _init_plugins() -> None:
    if not _LOADER_READY:
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader()
        _LOADER_READY.append(True)


def render(role: str, template: str, overrides: dict) -> str:
    """The text of roles/<role>/templates/<template> rendered with defaults + overrides."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    _init_plugins()
    role_dir = ROLES / role
    loader = DataLoader()
    loader.set_basedir(str(role_dir))
    defaults = loader.load_from_file(str(role_dir / "defaults" / "main.yml"), trusted_as_template=True) or {}
    variables = {**BASE_VARS, **defaults, **overrides, "ansible_search_path": [str(role_dir)]}
    templar = Templar(loader=loader, variables=variables)
    source = "{{ lookup('ansible.builtin.template', '" + template + "') }}"
    return templar.template(trust_as_template(source))


def render_all(role: str, template: str, overrides: dict) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render(role, template, overrides)) if doc]
