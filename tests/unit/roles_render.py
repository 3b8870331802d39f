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


BEGIN, END = "<!-- variables: generated from meta/argument_specs.yml -->", "<!-- end of variables -->"


def variables_table(role: str) -> str:
    """The README's variable table, generated from the role's argument_specs."""
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    rows = ["| variable | type | default | description |", "|---|---|---|---|"]
    for name, option in spec["options"].items():
        default = "(required)" if option.get("required") else f"`{yaml.safe_dump(option.get('default'), default_flow_style=True).strip().removesuffix('...').strip()}`"
        description = " ".join(option["description"]) if isinstance(option["description"], list) else option["description"]
        choices = f" One of {', '.join(map(str, option['choices']))}." if option.get("choices") else ""
        rows.append(f"| `{name}` | {option['type']} | {default} | {description.replace('|', '/')}{choices} |")
    return "\n".join([BEGIN, *rows, END])


def readme(role: str, usage: str) -> str:
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    description = "\n".join(f"- {line}" for line in spec.get("description", []))
    return (f"# {role}\n\n{spec['short_description']}.\n\n{description}\n\n## Example\n\n{usage}\n\n"
            f"## Role variables\n\n{variables_table(role)}\n")


USAGE = {
    "preflight": "First role of `playbooks/create.yml`; see `molecule/default/converge.yml` for a full create.",
    "window_lease": "`playbooks/create.yml` (admission), `molecule/reap/prepare.yml` (an orphan lease).",
    "broker_queue": "`playbooks/create.yml` for live jobs.",
    "job_resources": "`playbooks/create.yml`; the manifests are `templates/job.yml.j2`, `service.yml.j2`, `pvcs.yml.j2`.",
    "job_readiness": "`playbooks/create.yml` unless `wait_ready=false`.",
    "evidence": "`playbooks/cleanup.yml` and the rollback of `playbooks/create.yml` (`playbooks/tasks/rollback.yml`).",
    "job_cleanup": "`playbooks/cleanup.yml` and the rollback of `playbooks/create.yml`.",
    "job_query": "`playbooks/query.yml`.",
    "cluster_verify": "`playbooks/verify.yml`.",
    "platform": "`playbooks/deploy.yml` (`-e deploy_apply=false` only writes the manifests).",
    "streamer_image": "`playbooks/deploy.yml -e deploy_build_image=true -e image_builder=buildah`.",
}


if __name__ == "__main__":  # python tests/unit/roles_render.py: rewrite every role README
    for role_dir in sorted(p for p in ROLES.iterdir() if p.is_dir()):
        (role_dir / "README.md").write_text(readme(role_dir.name, USAGE.get(role_dir.name, "")))
