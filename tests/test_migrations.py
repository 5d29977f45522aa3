import ast
import importlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

import sandbox
import wagtail_coaching
from wagtail_coaching.automation.builtin import BUILTIN_RULES
from wagtail_coaching.models import AutomationRule

MIGRATION_DIRS = [
    Path(wagtail_coaching.__file__).parent / "migrations",
    Path(sandbox.__file__).parent / "home" / "migrations",
]

# The package code the schema migrations name, written by makemigrations for callable
# defaults, validators, choices and custom blocks. Each must stay importable under this path
# for as long as a migration names it; adding one is a decision, not an accident.
FIELD_REFERENCES = {
    "wagtail_coaching.blocks.automation.ClearAtRiskBlock",
    "wagtail_coaching.blocks.automation.message_template_choices",
    "wagtail_coaching.blocks.roles.coaching_role_choices",
    # Where shared files of messages are kept (upload path, the storage setting).
    "wagtail_coaching.models.conversations.attachment_path",
    "wagtail_coaching.models.conversations.attachment_storage",
    "wagtail_coaching.models.enquiries.new_checkout_token",
    "wagtail_coaching.models.offers.new_referral_code",
    "wagtail_coaching.models.sessions.new_token",
    "wagtail_coaching.models.teams.team_role_choices",
    "wagtail_coaching.models.teams.validate_time_zone",
}


def migration_files():
    return sorted(p for d in MIGRATION_DIRS for p in d.glob("[0-9]*.py"))


def dotted(node):
    """``a.b.c`` for an attribute chain on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def package_code_used(path):
    """What a migration takes from the package: (problems, field references)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    problems, references = [], set()
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wagtail_coaching"):
            problems.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import) and id(node) not in top_level and any(
            alias.name.startswith("wagtail_coaching") for alias in node.names
        ):
            problems.append(f"line {node.lineno}: import inside a function")
        elif isinstance(node, ast.FunctionDef):
            # Data code (RunPython) works on apps.get_model() and literals only.
            problems += [
                f"line {inner.lineno}: {node.name}() uses package code"
                for inner in ast.walk(node)
                if isinstance(inner, ast.Name) and inner.id == "wagtail_coaching"
            ]
        elif isinstance(node, ast.Attribute) and (name := dotted(node)):
            if name.startswith("wagtail_coaching.") and name.count(".") >= 3:
                references.add(name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # Block classes are named by a dotted path in a string (a model label has one dot).
            if node.value.startswith("wagtail_coaching.") and node.value.count(".") >= 2:
                references.add(node.value)
    # Keep the full names only (the walk also meets their prefixes).
    references = {r for r in references if not any(o.startswith(r + ".") for o in references)}
    return problems, references


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:
        pytest.fail(f"A model change has no migration:\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize(
    "path", migration_files(), ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_migration_runs_no_package_code(path):
    """A migration must do the same thing whatever the package later becomes: data code uses
    historical models and literals; schema code names only the listed field references."""
    problems, references = package_code_used(path)
    assert not problems
    assert references <= FIELD_REFERENCES, (
        "New package code named by a migration; if it must be, list it in FIELD_REFERENCES: "
        f"{sorted(references - FIELD_REFERENCES)}"
    )


def test_the_checker_sees_package_code_in_data_code(tmp_path):
    path = tmp_path / "0009_data.py"
    path.write_text(
        "import wagtail_coaching.models.teams\n"
        "def forwards(apps, schema_editor):\n"
        "    from wagtail_coaching.automation.builtin import BUILTIN_RULES\n"
        "    import wagtail_coaching.conf\n"
        "    wagtail_coaching.models.teams.Team\n"
        "x = wagtail_coaching.models.teams.validate_time_zone\n"
        "y = ('wagtail_coaching.blocks.automation.ClearAtRiskBlock', 'wagtail_coaching.Team')\n"
    )
    problems, references = package_code_used(path)
    assert len(problems) == 3
    assert references == {
        "wagtail_coaching.models.teams.Team",
        "wagtail_coaching.models.teams.validate_time_zone",
        "wagtail_coaching.blocks.automation.ClearAtRiskBlock",
    }


@pytest.mark.django_db
def test_a_migrated_database_has_every_builtin_rule():
    rules = {rule.key: rule for rule in AutomationRule.objects.filter(key__isnull=False)}
    for spec in BUILTIN_RULES:
        rule = rules[spec["key"]]
        assert rule.active
        assert rule.active_since is not None
        for field in ("name", "description", "trigger", "days", "hours"):
            assert getattr(rule, field) == spec.get(field), (spec["key"], field)
        actions = [{"type": b["type"], "value": b["value"]} for b in rule.actions.raw_data]
        assert actions == spec["actions"], spec["key"]


@pytest.mark.django_db
def test_the_after_session_rule_change_keeps_a_rule_the_site_edited():
    from django.apps import apps

    step = importlib.import_module(
        "wagtail_coaching.migrations.0007_after_session_rule_opens_practice"
    )
    rule = AutomationRule.objects.get(key="session-follow-up")
    edited = [{"type": "unlock_next", "value": {"kind": "practice"}},
              {"type": "notify", "value": {"recipient": "coach", "channel": "email",
                                           "template": "session_follow_up",
                                           "subject": "", "body": ""}}]
    AutomationRule.objects.filter(pk=rule.pk).update(actions=json.dumps(edited), name="Ours")
    step.forwards(apps, None)
    rule.refresh_from_db()
    assert rule.name == "Ours"
    assert [b["value"].get("recipient") for b in rule.actions.raw_data] == [None, "coach"]
    shipped = [{"type": t, "value": v} for t, v in step.SHIPPED]
    AutomationRule.objects.filter(pk=rule.pk).update(actions=json.dumps(shipped))
    step.forwards(apps, None)
    rule.refresh_from_db()
    assert [b["type"] for b in rule.actions.raw_data] == ["unlock_next"]
    assert rule.name == step.NOW["name"]
