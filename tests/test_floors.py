"""The house's floors: no command line imports another, envs/ imports nothing above it, and the analytic
and no-regret path runs with torch (and stable-baselines3) unimportable."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND_LINES = {"evaluate", "train"}

BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'stable_baselines3', 'sb3_contrib'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import evaluate
code = evaluate.main(sys.argv[1:])
assert not {m for m in sys.modules if m.split('.')[0] in ('torch', 'stable_baselines3')}
sys.exit(code)
"""


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, wherever the import statement is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def library_files() -> list[Path]:
    return [p for folder in ("envs", "agents", "mediator", "comparison", "sweep") for p in (ROOT / folder).glob("*.py")]


def test_no_command_line_imports_another():
    for path in [*library_files(), ROOT / "train.py", ROOT / "evaluate.py"]:
        assert not (imported_modules(path) & (COMMAND_LINES - {path.stem})), path


def test_envs_is_the_ground_floor_and_agents_and_mediator_do_not_import_each_other():
    above = {"envs": {"agents", "mediator", "comparison", "sweep"}, "agents": {"mediator", "comparison", "sweep"},
             "mediator": {"agents", "comparison", "sweep"}}
    for folder, forbidden in above.items():
        for path in (ROOT / folder).glob("*.py"):
            assert not imported_modules(path) & forbidden, path


def test_the_analytic_and_no_regret_path_runs_without_torch(tmp_path):
    for args in (["--rounds", "0"], ["--game", "bos", "--rounds", "300", "--seeds", "2"]):
        out = subprocess.run([sys.executable, "-c", BLOCK_TORCH, *args, "--json", str(tmp_path / "r.json")],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert (tmp_path / "r.json").is_file()
