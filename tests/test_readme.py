"""The README's JSON key list is checked against a real report; the README sends no reader to a missing file."""
import json
import re
from pathlib import Path

from evaluate import main as evaluate_main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def documented_keys() -> dict[str, set[str]]:
    """The fenced block after ``<!-- report-keys -->``: 'path: key key ...' lines (no path: top level)."""
    block = README.split("<!-- report-keys -->", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    keys: dict[str, set[str]] = {}
    for line in block.strip().splitlines():
        path, _, names = line.rpartition(": ") if ": " in line else ("", "", line)
        keys.setdefault(path, set()).update(names.split())
    return keys


def resolve(report: dict, path: str) -> list[dict]:
    """The objects a documented path names: ``a.b``, ``a[]`` (every element), ``<name>`` (every key)."""
    objects = [report]
    for part in re.findall(r"learned:<run>|<name>|[^.]+", path):
        if part == "<name>":
            objects = [v for o in objects for v in o.values()]
        elif part == "learned:<run>":
            objects = [v for o in objects for k, v in o.items() if k.startswith("learned:")]
        elif part.endswith("[]"):
            objects = [v for o in objects for v in o[part[:-2]]]
        else:
            objects = [o[part] for o in objects]
    return objects


def test_the_documented_report_keys_are_those_of_a_real_report(tmp_path):
    out = tmp_path / "r.json"
    assert evaluate_main(["--game", "example1", "--rounds", "200", "--seeds", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    keys = documented_keys()
    assert set(report) == keys[""] - {"description"} | ({"description"} & set(report))
    for path, names in keys.items():
        if path and not path.startswith("mediators.learned"):
            for obj in resolve(report, path):
                assert names <= set(obj), f"{path}: {sorted(names - set(obj))} missing"


def test_the_readme_links_only_to_files_in_the_repository():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target
