"""The package's layers (README, "How the code is laid out"): every import points down or sideways, never up."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "zoo"

#: Module (or package prefix) -> layer. A module may import its own layer or lower ones.
LAYERS = {
    # 1. foundations: torch, torchvision, huggingface_hub only
    "zoo.errors": 1, "zoo.version": 1, "zoo.layers": 1, "zoo.losses": 1, "zoo.divergences": 1, "zoo.regularizers": 1,
    "zoo.tricks": 1, "zoo.images": 1, "zoo.class_names": 1, "zoo.hub": 1, "zoo.machine": 1,
    # 2. the model format: every net, the Generator base they subclass, weights folders, the index
    "zoo.generator": 2, "zoo.nets": 2, "zoo.serialization": 2, "zoo.registry": 2,
    # 3. from a spec to a generator; upstream checkpoints
    "zoo.weights": 3, "zoo.convert": 3,
    # 4. training (Lightning) and scoring
    "zoo.engine": 4, "zoo.families": 4, "zoo.callbacks": 4, "zoo.data": 4, "zoo.checkpointing": 4,
    "zoo.distributed": 4, "zoo.watchdog": 4, "zoo.sigterm": 4, "zoo.metrics": 4, "zoo.curves": 4,
    # 5. maintainers' tools over trained weights
    "zoo.publish": 5, "zoo.bundle": 5, "zoo.leaderboard": 5,
    # 6. the public facade and the command line
    "zoo": 6, "zoo.__main__": 6, "zoo.cli": 6,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


def zoo_imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a zoo module in ``path``, also those inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from . import x` imports the submodule x when there is one
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = any((PACKAGE.parent / candidate.replace(".", "/")).with_suffix(s).exists()
                                for s in (".py", "")) and candidate.startswith("zoo")
                found.append((node.lineno, candidate if is_module else base))
    return [(line, module) for line, module in found if module == "zoo" or module.startswith("zoo.")]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert [module_name(p) for p in SOURCES if layer(module_name(p)) is None] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    source = module_name(path)
    upward = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} (layer {layer(target)} > {layer(source)})"
              for line, target in zoo_imports(path) if (layer(target) or 0) > layer(source)]
    assert upward == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_nothing_imports_the_command_line(path):
    source = module_name(path)
    if source.startswith("zoo.cli") or source == "zoo.__main__":
        return
    assert [target for _, target in zoo_imports(path) if target.startswith("zoo.cli")] == []


def test_the_checker_sees_upward_and_nested_imports():
    text = "from . import nets\nfrom ..errors import ZooError\n\ndef f():\n    from ..engine import GANModule\n"
    assert zoo_imports(PACKAGE / "nets" / "dcgan.py", text) == [(1, "zoo.nets"), (2, "zoo.errors"), (5, "zoo.engine")]
    assert zoo_imports(PACKAGE / "registry.py", "from . import nets\nimport zoo.cli\n") == [
        (1, "zoo.nets"), (2, "zoo.cli")]


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_loading_a_model_imports_no_training_code():
    out = run_python("import sys, zoo; x = zoo.load('dcgan-fmnist').sample(4); "
                     "print(tuple(x.shape), 'lightning' in sys.modules, 'zoo.engine' in sys.modules)")
    assert out == "(4, 1, 28, 28) False False"


def test_help_list_and_info_import_no_torch():
    out = run_python("import sys; from zoo.cli import build_parser, main; build_parser().format_help(); "
                     "main(['list']); main(['info', 'dcgan-fmnist']); print('torch' in sys.modules)")
    assert out.splitlines()[-1] == "False"


def test_no_module_unpickles():
    """The README's promise, read off the source: no module of zoo/ turns off the weights-only loader."""
    assert [str(p.relative_to(PACKAGE.parent)) for p in SOURCES if "weights_only=False" in p.read_text()] == []
