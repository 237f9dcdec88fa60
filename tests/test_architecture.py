"""The layering rules the README states, checked on the source itself: one
writer of the event log, one publisher, and imports that point one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("chatbot", "workbench")
STATE_MACHINE = Path("chatbot/conversations.py")


def project_modules() -> list[Path]:
    """Every application module (tests, benchmarks and migrations excluded)."""
    modules = []
    for package in ("fiido", *APPS):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules.append(path.relative_to(ROOT))
    return sorted(modules)


def tree(path: Path) -> ast.Module:
    return ast.parse((ROOT / path).read_text(), filename=str(path))


def called_names(module: ast.Module) -> set[str]:
    """Dotted names of everything called in ``module`` (``Event.objects.create``)."""
    names = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Call):
            names.add(ast.unparse(node.func))
    return names


def test_only_the_state_machine_writes_events_or_publishes():
    """Event rows are created, and events published, only by chatbot/conversations.py:
    an event written anywhere else would skip the session lock that numbers it."""
    writers = {}
    for path in project_modules():
        calls = called_names(tree(path))
        found = {
            call
            for call in calls
            if call in {"publish_on_commit", "realtime.publish_on_commit", "Event", "Event.objects.bulk_create"}
            or call.startswith("Event.objects.create")
            or call.endswith(".events.create")
            or call.endswith("group_send")
        }
        if found:
            writers[str(path)] = sorted(found)
    assert writers.pop(str(STATE_MACHINE), None), "the state machine itself must write and publish"
    sends = writers.pop("fiido/realtime/publish.py", [])
    assert [call for call in sends if call.endswith("group_send")], "publish.py sends to the layer"
    assert writers == {}


def test_the_project_package_imports_neither_app():
    """``fiido`` is the plumbing both apps stand on; it names the apps only in
    settings (installed apps, URLconfs, stream routes), never imports them."""
    offenders = []
    for path in project_modules():
        if path.parts[0] != "fiido":
            continue
        for node in ast.walk(tree(path)):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            offenders += [f"{path}: {m}" for m in modules if m.split(".")[0] in APPS]
    assert offenders == []


def test_the_customer_app_never_imports_the_workbench():
    offenders = []
    for path in project_modules():
        if path.parts[0] != "chatbot":
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "workbench":
                offenders.append(f"{path}: {node.module}")
    assert offenders == []
