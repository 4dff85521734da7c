"""The sweep's output folder: the spec it runs, and one JSON line per finished task, appended as tasks finish.

A sweep killed part-way leaves at most a torn last line, which is dropped on resume; tasks already
recorded as ``ok`` are not run again, failed ones are.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from envs.io import atomic_write_text

from sweep.spec import SweepSpec, SweepSpecError


class ResultStore:
    """``results.jsonl`` and ``sweep.json`` in ``folder``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / "results.jsonl"

    def open(self, spec: SweepSpec) -> dict[str, dict]:
        """Start or resume the sweep ``spec`` here: the records of finished tasks by task key.
        A folder that holds another sweep is refused."""
        echo = self.folder / "sweep.json"
        wanted = json.dumps(spec.to_json(), indent=2) + "\n"
        if echo.is_file():
            if echo.read_text(encoding="utf-8") != wanted:
                raise SweepSpecError(f"{self.folder}: holds the results of a different sweep; "
                                     "choose another --out folder or delete this one")
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise SweepSpecError(f"{self.folder}: exists and is not a sweep folder; choose another --out")
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(echo, wanted)
        return self._load()

    def _load(self) -> dict[str, dict]:
        """The last record of each task; a torn last line (a killed writer) is cut off the file."""
        if not self.path.is_file():
            return {}
        records, good = {}, 0
        with open(self.path, "rb") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    break
                if not line.endswith(b"\n"):
                    break
                records[record["key"]] = record
                good += len(line)
        if good != self.path.stat().st_size:
            os.truncate(self.path, good)
        return records

    def append(self, record: dict) -> None:
        """Add one finished task durably (flushed and fsynced before returning)."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
