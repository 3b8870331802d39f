"""Role contracts: argument_specs cover every default, label keys match glue/labels.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from glue import labels

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def test_the_roles_of_design_section_6_exist():
    names = {p.name for p in ROLES}
    assert {"preflight", "window_lease", "broker_queue", "job_resources", "job_readiness", "evidence",
            "job_cleanup", "job_query", "cluster_verify", "platform", "streamer_image"} <= names


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_cover_every_default(role: Path):
    defaults = _load(role / "defaults" / "main.yml")
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    optional = {name for name, spec in options.items() if not spec.get("required")}
    assert set(defaults) == optional, (
        f"{role.name}: defaults without spec {sorted(set(defaults) - optional)}, "
        f"spec without default {sorted(optional - set(defaults))}"
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_option_has_type_and_description_and_the_role_prefix(role: Path):
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        assert name.startswith(f"{role.name}_") or name == role.name, f"{role.name}: {name} lacks the role prefix"
        assert spec.get("type") and spec.get("description"), f"{role.name}: {name} needs type and description"
        if not spec.get("required"):
            assert "default" in spec, f"{role.name}: {name} has no default in argument_specs"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_role_has_meta_tasks_and_defaults(role: Path):
    for part in ("meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml", "defaults/main.yml"):
        assert (role / part).is_file(), f"{role.name} lacks {part}"


def test_label_keys_of_the_role_defaults_equal_glue_labels():
    keys = _load(ROOT / "roles" / "job_resources" / "defaults" / "main.yml")["job_resources_label_keys"]
    assert set(keys.values()) == {
        labels.LABEL_APP, labels.LABEL_NAME, labels.LABEL_INSTANCE, labels.LABEL_MANAGED_BY,
        labels.LABEL_JOB_ID, labels.LABEL_WINDOW, labels.LABEL_OWNER, labels.LABEL_KIND, labels.LABEL_MODE,
    }
    assert keys["app"] == labels.LABEL_APP and keys["job_id"] == labels.LABEL_JOB_ID


def test_label_values_of_the_role_defaults_equal_glue_labels():
    defaults = _load(ROOT / "roles" / "job_resources" / "defaults" / "main.yml")
    assert defaults["job_resources_app_name"] == labels.APP_NAME
    assert defaults["job_resources_managed_by"] == labels.MANAGED_BY
    assert defaults["job_resources_service_base_port"] == labels.SERVICE_BASE_PORT
    assert defaults["job_resources_container_port"] == labels.STREAM_CONTAINER_PORT


def test_create_playbook_labels_the_lease_with_the_same_keys():
    play = _load(ROOT / "playbooks" / "create.yml")[0]
    lease_labels = play["vars"]["_create_labels"]
    keys = _load(ROOT / "roles" / "job_resources" / "defaults" / "main.yml")["job_resources_label_keys"]
    assert set(lease_labels) == set(keys.values())


def test_every_playbook_ends_with_set_stats_under_spectrojobs():
    for name in ("create", "verify", "query", "cleanup", "reap", "deploy"):
        plays = _load(ROOT / "playbooks" / f"{name}.yml")
        last = plays[-1]["tasks"][-1]
        stats = last.get("ansible.builtin.set_stats")
        assert stats is not None, f"{name}.yml does not end with ansible.builtin.set_stats"
        assert set(stats["data"]) == {"spectrojobs"}
        assert stats.get("aggregate") is True and stats.get("per_host") is False


def test_no_role_task_uses_a_shell_or_a_bare_sleep():
    for path in (ROOT / "roles").glob("*/tasks/*.yml"):
        text = path.read_text()
        for banned in ("ansible.builtin.shell", "ansible.builtin.pause", "ansible.builtin.wait_for:\n", " sleep "):
            assert banned not in text, f"{path}: uses {banned.strip()}"


@pytest.mark.parametrize("name", ["create", "verify", "query", "cleanup", "reap", "deploy"])
def test_every_playbook_has_an_awx_survey_whose_variables_it_reads(name):
    import json

    survey = json.loads((ROOT / "awx" / "surveys" / f"{name}.json").read_text())
    playbook = (ROOT / "playbooks" / f"{name}.yml").read_text()
    for question in survey["spec"]:
        assert question["variable"] in playbook, f"{name}.yml never reads {question['variable']}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_readme_variables_are_generated_from_argument_specs(role: Path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from roles_render import variables_table

    text = (role / "README.md").read_text()
    assert variables_table(role.name) in text, (
        f"{role.name}/README.md is out of date: run python tests/unit/roles_render.py")
