"""Nothing imports upward: the dependency direction of DESIGN.md, checked on the source.

Top to bottom: wagtail_hooks -> admin (reports inside) -> views -> services (journeys, payments,
scheduling, automation, notifications) -> permissions, metrics -> models -> blocks -> utils, conf.

Every ``.py`` file of the package is parsed (not imported), relative imports are resolved, and
imports inside functions count as much as those at the top: a deferred import is how a cycle
hides, not how it goes away.
"""

import ast
from pathlib import Path

PACKAGE = "wagtail_coaching"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# The layer of each part of the package (a dotted name under ``wagtail_coaching``; the longest
# matching name wins). A module imports its own layer and those below, never one above.
BOTTOM, BLOCKS, MODELS, RULES, SERVICES, PRESENTATION, VIEWS, REPORTS, ADMIN, HOOKS = range(10)
LAYERS = {
    "": BOTTOM,  # the package's __init__: its version, nothing else
    "utils": BOTTOM,
    "conf": BOTTOM,
    # Plain declarations of the kinds of message: blocks (a rule's choices) read them.
    "notifications.kinds": BOTTOM,
    "blocks": BLOCKS,
    "models": MODELS,
    "permissions": RULES,
    # The role groups (created after migrate): the groups the permission layer reads roles from.
    "roles": RULES,
    "metrics": RULES,
    "journeys": SERVICES,
    "continuity": SERVICES,
    "payments": SERVICES,
    "scheduling": SERVICES,
    # Coaches' own calendars over CalDAV: busy times read, sessions written.
    "calendars": SERVICES,
    "automation": SERVICES,
    "notifications": SERVICES,
    "conversations": SERVICES,
    "failed_jobs": SERVICES,
    "portability": SERVICES,
    # Actors call services and services enqueue actors (after commit): one layer. An actor
    # imports its service inside its body, so neither import runs at the other's import.
    "tasks": SERVICES,
    "signal_handlers": SERVICES,
    # What pages are drawn with: charts, template tags, forms. Views and admin use them.
    "charts": PRESENTATION,
    "templatetags": PRESENTATION,
    "forms": PRESENTATION,
    "views": VIEWS,
    "urls": VIEWS,
    "urls_payments": VIEWS,
    # The optional accounts pages (sign in, sign up, profile): views of their own.
    "accounts": VIEWS,
    # Reports are part of the admin, but the admin's URLs import them: they never import it.
    "reports": REPORTS,
    "admin": ADMIN,
    "wagtail_hooks": HOOKS,
    "apps": HOOKS,
    "checks": HOOKS,
    "management": HOOKS,
    # Helpers for the host's tests and the sandbox's demo data: they may use anything.
    "testing": HOOKS,
}

# Deliberate exceptions, each with its reason, as (importing module, imported module).
RENDER_HOOKS = {
    # Wagtail serves a page through its class (``Page.get_context``) and renders a block
    # through its own (``Block.get_context``): those methods are the page's view. They reach
    # the read models at render time, through an import inside the method.
    ("wagtail_coaching.models.engagements", "wagtail_coaching.charts.journeys"),
    ("wagtail_coaching.models.engagements", "wagtail_coaching.journeys.queries"),
    ("wagtail_coaching.models.engagements", "wagtail_coaching.continuity.history"),
    ("wagtail_coaching.models.offers", "wagtail_coaching.payments.access"),
    ("wagtail_coaching.blocks.landing", "wagtail_coaching.payments.access"),
}
# Known upward imports still to move, so that they cannot grow in number unnoticed.
# None left: add one here, with its reason, only while it is being moved.
TO_MOVE = set()
ALLOWED = RENDER_HOOKS | TO_MOVE


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path):
    """Yield (line, imported module) for every import of the package in the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target
            if not node.module:
                # ``from . import x``: x may be a module of its own.
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"


def layer(module):
    """(the name in ``LAYERS`` that ``module`` belongs to, its layer), or (None, None)."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None, None
    bits = module.split(".")[1:]
    for size in range(len(bits), -1, -1):
        name = ".".join(bits[:size])
        if name in LAYERS:
            return name, LAYERS[name]
    return None, None


def offences():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = module_name(path)
        where = f"{path.relative_to(ROOT.parent)}"
        source, level = layer(module)
        if source is None:
            found.append(f"{where}:1 {module} has no layer in this test")
            continue
        for line, target in imports_of(path):
            dest, dest_level = layer(target)
            if dest is None or dest == source or (module, target) in ALLOWED:
                continue
            upward = dest_level > level
            # The bottom layer stands alone: it imports nothing else of the package (but
            # utils may read the settings).
            from_bottom = level == BOTTOM and not (source == "utils" and dest == "conf")
            if upward or from_bottom:
                found.append(f"{where}:{line} {module} imports {target}")
    return found


def test_every_module_has_a_layer_and_nothing_imports_upward():
    found = offences()
    assert not found, "Imports against the layers of DESIGN.md:\n" + "\n".join(found)


def test_the_allow_list_has_no_stale_entries():
    seen = {
        (module_name(path), target)
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts
        for _line, target in imports_of(path)
    }
    assert not (set(ALLOWED) - seen)
