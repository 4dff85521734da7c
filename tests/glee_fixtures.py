"""A small generator of GLEE-format bargaining games for tests (the real GLEE data is not copied here).

`write_glee_game` writes one game folder as GLEE's bargaining code does (see
shared/data/glee_bargaining_sample/SOURCE.md): ``config.json`` in the old format (deltas in
``player_i_args.delta``, JSON on one line) or the new one (``game_args.delta_1/delta_2``, indented), and
``game.csv`` with an offer row and a response row per round (Alice proposes in odd rounds, Bob in even
ones), a ``message`` column when messages are allowed, and the file ending at the first accept.
`expected_utilities` is the utility rule written out for the same arguments.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence


def write_glee_game(folder: Path, alice: str = "gpt-4o", bob: str = "vertex_ai/gemini-1.5-pro",
                    offers: Sequence[float] = (60.0,), accepted: bool = True, deltas: tuple[float, float] = (0.9, 0.8),
                    money: float = 100, fmt: str = "new", messages: bool = False,
                    responder_message: str | None = None, max_rounds: int = 12,
                    files: Sequence[str] = ("config.json", "game.csv"), complete_information: bool = True) -> Path:
    """One game: ``offers[j]`` is Alice's amount in the split proposed in round j + 1; every offer but the
    last is rejected, the last is accepted when ``accepted``. ``responder_message`` is written on the
    response rows (messages only); ``files`` chooses which of the two files exist."""
    folder.mkdir(parents=True, exist_ok=True)
    p1, p2 = {"public_name": "Alice", "model_name": alice}, {"public_name": "Bob", "player_id": 3, "model_name": bob}
    game_args = {"money_to_divide": money, "max_rounds": max_rounds, "complete_information": complete_information,
                 "messages_allowed": messages}
    if fmt == "old":
        p1["delta"], p2["delta"] = deltas
    else:
        game_args.update(delta_1=deltas[0], delta_2=deltas[1])
    config = {"player_1_type": "litellm", "player_2_type": "litellm", "player_1_args": p1, "player_2_args": p2,
              "game_type": "bargaining", "experiment_name": "test", "game_args": game_args, "game": None}
    if "config.json" in files:
        text = json.dumps(config, indent=4) if fmt == "new" else json.dumps(config)
        (folder / "config.json").write_text(text, encoding="utf-8")
    header = ["alice_gain", "bob_gain", *(["message"] if messages else []), "player", "round", "decision"]
    rows = []
    for j, gain in enumerate(offers):
        rnd = j + 1
        proposer, responder = ("Alice", "Bob") if rnd % 2 else ("Bob", "Alice")
        decision = "accept" if accepted and j == len(offers) - 1 else "reject"
        offer = [f"{gain:.1f}", f"{money - gain:.1f}"]
        if messages:
            rows.append([*offer, f"{proposer} offers {gain}, \"fair\", isn't it?", proposer, rnd, ""])
            rows.append(["", "", responder_message or "", responder, rnd, decision])
        else:
            rows += [[*offer, proposer, rnd, ""], ["", "", responder, rnd, decision]]
    if "game.csv" in files:
        with open(folder / "game.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def expected_utilities(offers: Sequence[float], accepted: bool = True, deltas: tuple[float, float] = (0.9, 0.8),
                       money: float = 100) -> tuple[float, float]:
    """Alice's share of the accepted split times delta_1^(round - 1), Bob's likewise; (0, 0) without a deal."""
    if not accepted:
        return 0.0, 0.0
    p, t = offers[-1] / money, len(offers) - 1
    return p * deltas[0] ** t, (1 - p) * deltas[1] ** t
