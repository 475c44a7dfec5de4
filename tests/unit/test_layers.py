"""The layers point one way: no module imports from a layer above its own.

core (data model, errors, settings, text, numerals) and the prompt loader at the bottom; ingestion and
storage (index) on them; answering (query, retrieval, compose, grounding, llm) on that; the composition root
(engine) above; the interfaces (cli, ui, eval) on top. Lazy imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import policy_assistant

PACKAGE = Path(policy_assistant.__file__).resolve().parent
ROOT = PACKAGE.parent
FOLDERS = {"policy_assistant": PACKAGE, "policy_assistant.index": ROOT / "index",
           "policy_assistant.prompts": ROOT / "prompts", "policy_assistant.eval": ROOT / "eval",
           "policy_assistant.ui": ROOT / "ui"}
LAYERS = [  # (name, prefixes), bottom first; the longest matching prefix decides
    ("core", ("policy_assistant.core", "policy_assistant.prompts")),
    ("index", ("policy_assistant.index",)),
    ("answering", ("policy_assistant",)),
    ("root", ("policy_assistant.engine",)),
    ("interfaces", ("policy_assistant.cli", "policy_assistant.__main__", "policy_assistant.ui",
                    "policy_assistant.eval")),
]


def layer_of(module: str) -> int:
    best, level = -1, None
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), number
    assert level is not None, module
    return level


def modules():
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            if package == "policy_assistant" and path.is_relative_to(PACKAGE) is False:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([package, *parts]), path


def imports(module: str, path: Path):
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)


def test_every_module_is_found():
    names = {name for name, _ in modules()}
    assert {"policy_assistant.engine", "policy_assistant.core.settings", "policy_assistant.index.builder",
            "policy_assistant.ui.server", "policy_assistant.eval.runner"} <= names


def test_no_import_points_up():
    known = {name for name, _ in modules()}
    upward = []
    for module, path in modules():
        own = layer_of(module)
        for target in imports(module, path):
            if not target.startswith("policy_assistant"):
                continue
            while target not in known and "." in target:      # `from x import name` names a symbol
                target = target.rsplit(".", 1)[0]
            if layer_of(target) > own:
                upward.append(f"{module} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
    assert not upward, "\n".join(upward)


def test_layer_rule_can_fail():
    assert layer_of("policy_assistant.index.store") > layer_of("policy_assistant.core.model")
    assert layer_of("policy_assistant.engine") > layer_of("policy_assistant.retrieval")
    assert layer_of("policy_assistant.ui.api") > layer_of("policy_assistant.engine")
