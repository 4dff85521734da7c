"""Loading a stable-baselines3 model file without unpickling anything from it.

An SB3 model zip holds ``data`` (JSON; every value JSON cannot hold is cloudpickled, base64-encoded
under a ":serialized:" key, next to a few readable "companion" fields), one ``<name>.pth`` state dict
per torch module / optimizer and ``pytorch_variables.pth`` (torch.save). ``PPO.load`` would
cloudpickle.loads every ":serialized:" value, so a shared model file could run any code.
``load_sb3`` reads the file once into memory and refuses it, in one line (ModelFileError), unless:

- it is a whole zip (every entry's CRC checked) with ``data``, ``pytorch_variables.pth`` and exactly
  the state dicts the algorithm saves;
- ``data`` is a JSON object none of whose entries is one SB3 never saves (``env``: SB3 would build an
  environment from its name), and every ":serialized:" entry is one the caller rebuilt from trusted
  information (the run's config.json, the game): the rebuilt objects go to SB3 as ``custom_objects``,
  and for those keys ``stable_baselines3.common.save_util.json_to_data`` takes the given object
  without decoding the payload. Each payload is still audited (pickletools decodes its opcodes,
  nothing runs): it may only name the numpy / gymnasium / SB3 classes an honest save holds and the
  classes of the objects that replace it, and its companion fields (type, shape, dtype, schedule,
  keyword values) must match the rebuilt object; a tampered entry is refused rather than ignored;
- every ``.pth`` loads with ``torch.load(weights_only=True)`` (tensors and plain containers only);
  ``pytorch_variables.pth`` holds only the variables the algorithm saves.

The same bytes are then handed to ``algorithm.load`` (whose own torch.load is weights_only too), so
what SB3 reads is what was checked. The generic part takes the algorithm class (PPO, MaskablePPO,
...); what replaces a project model's pickled entries is built in mediator.learned.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import pickletools
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterable, Mapping

from envs.game import GameError

#: What an on-policy algorithm (PPO, A2C, MaskablePPO) saves with torch: its state dicts, and no variables.
ON_POLICY_STATE_DICTS = ("policy", "policy.optimizer")

#: Attributes SB3 excludes from a save; a file that holds one was not written by SB3 (``env`` would even
#: make SB3 build an environment from a name, importing the module it names).
NEVER_SAVED = frozenset({"env", "policy", "device", "replay_buffer", "rollout_buffer", "_vec_normalize_env",
                         "_episode_storage", "_logger", "_custom_logger"})

#: Globals an honest save's pickled entries name (besides the classes of the objects that replace them):
#: numpy arrays, scalars, dtypes and random generators (both numpy 1 and 2 module names), gymnasium spaces,
#: SB3's schedules, buffers and policies, and the deque of episode statistics.
SAFE_GLOBALS = frozenset({
    ("collections", "deque"), ("collections", "OrderedDict"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    *(("numpy.random._pickle", name) for name in ("__generator_ctor", "__bit_generator_ctor", "__randomstate_ctor")),
    *(("numpy.random." + module, name) for module, name in (
        ("_generator", "Generator"), ("mtrand", "RandomState"), ("_pcg64", "PCG64"), ("_pcg64", "PCG64DXSM"),
        ("_mt19937", "MT19937"), ("_philox", "Philox"), ("_sfc64", "SFC64"), ("bit_generator", "SeedSequence"),
        ("bit_generator", "__pyx_unpickle_SeedSequence"))),
    *(("gymnasium.spaces." + module, name) for module, name in (
        ("box", "Box"), ("discrete", "Discrete"), ("multi_discrete", "MultiDiscrete"),
        ("multi_binary", "MultiBinary"), ("dict", "Dict"), ("tuple", "Tuple"))),
    *(("stable_baselines3.common.utils", name) for name in ("FloatSchedule", "ConstantSchedule", "LinearSchedule")),
    *(("stable_baselines3.common.buffers", name) for name in ("RolloutBuffer", "DictRolloutBuffer")),
    *(("stable_baselines3.common.policies", name) for name in ("ActorCriticPolicy", "MultiInputActorCriticPolicy")),
})

_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"}
_MARK, _VALUE = object(), object()


class ModelFileError(GameError):
    """A model file that is not a whole SB3 zip, or that holds something loading it would have to unpickle."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def load_sb3(path: str | Path, algorithm, rebuilt: Mapping[str, Any], *, env=None, device: str = "cpu",
             state_dicts: Iterable[str] = ON_POLICY_STATE_DICTS, variables: Iterable[str] = (), **kwargs):
    """``algorithm.load(path, env=env, device=device, **kwargs)`` (``algorithm`` an SB3 class) with every pickled
    entry of the file's ``data`` replaced by ``rebuilt[key]`` and nothing in the file unpickled; ModelFileError
    (one line) when the file is not a whole model zip of ``state_dicts`` and ``variables``, holds a pickled entry
    ``rebuilt`` has no replacement for, or one whose payload or companion fields do not fit it."""
    path = Path(path)
    raw, data = read_model_zip(path, tuple(state_dicts), tuple(variables))
    serialized = check_data(path, data, rebuilt)
    try:
        return algorithm.load(io.BytesIO(raw), env=env, device=device,
                              custom_objects={key: rebuilt[key] for key in serialized}, **kwargs)
    except Exception as e:  # noqa: BLE001 - anything SB3 or torch raise on a bad file is one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ModelFileError(path, f"cannot load the model ({type(e).__name__}: {first})") from None


def read_model_zip(path: Path, state_dicts: tuple[str, ...], variables: tuple[str, ...]) -> tuple[bytes, dict]:
    """The file's bytes and its parsed ``data``, once every entry is whole and every .pth is plain tensors."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(path, "no such model file") from None
    except OSError as e:
        raise ModelFileError(path, f"cannot read the model file ({e.strerror or type(e).__name__})") from None
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
            if len(set(names)) != len(names):
                raise ModelFileError(path, "not a model file SB3 wrote (an entry name appears twice)")
            bad = archive.testzip()
            if bad is not None:
                raise ModelFileError(path, f"a corrupt model file (entry {bad} fails its CRC check)")
            expected = [f"{name}.pth" for name in state_dicts] + ["pytorch_variables.pth"]
            missing = [name for name in ["data", *expected] if name not in names]
            if missing:
                raise ModelFileError(path, f"not a complete model file (no {', '.join(missing)} entry)")
            extra = sorted(n for n in names if n.endswith(".pth") and n not in expected)
            if extra:
                raise ModelFileError(path, f"unexpected entry {extra[0]} (this model holds {', '.join(expected)})")
            try:
                data = json.loads(archive.read("data").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ModelFileError(path, f"its data entry is not JSON ({type(e).__name__})") from None
            if not isinstance(data, dict):
                raise ModelFileError(path, "its data entry is not a JSON object")
            for name in expected:
                check_tensors(path, name, archive.read(name), variables)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as e:
        raise ModelFileError(path, f"not a model file (not a zip archive, or a truncated or corrupt one: {e})") from None
    return raw, data


def check_tensors(path: Path, name: str, blob: bytes, variables: tuple[str, ...]) -> None:
    """A .pth entry must load with ``torch.load(weights_only=True)``: tensors in plain containers, no code."""
    import torch  # lazy: torch is only needed for learned models

    try:
        loaded = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        what = f" (it names {found.group(1)})" if found else ""
        raise ModelFileError(path, f"refusing {name}: it holds more than tensors and would have to be "
                                   f"unpickled{what}") from None
    except Exception as e:  # noqa: BLE001 - a corrupt torch file fails in many ways; each is one line
        raise ModelFileError(path, f"cannot read {name} ({type(e).__name__})") from None
    if not isinstance(loaded, dict):
        raise ModelFileError(path, f"{name} is not a state dict")
    if name == "pytorch_variables.pth":
        unknown = sorted(set(map(str, loaded)) - set(variables))
        if unknown:
            raise ModelFileError(path, f"pytorch_variables.pth holds {unknown[0]}, not a variable this model saves")


def check_data(path: Path, data: dict, rebuilt: Mapping[str, Any]) -> list[str]:
    """The keys of ``data``'s pickled entries, once each has a replacement in ``rebuilt`` that fits it."""
    never = sorted(NEVER_SAVED & set(data))
    if never:
        raise ModelFileError(path, f"refusing its {never[0]} entry (SB3 never saves one; loading it would build "
                                   "objects from the file)")
    serialized = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    unknown = [k for k in serialized if k not in rebuilt]
    if unknown:
        raise ModelFileError(path, f"refusing to unpickle its {unknown[0]} entry (only entries rebuilt from the run's "
                                   "config are loaded, and nothing rebuilds this one)")
    for key, value in data.items():
        if key not in serialized and ":serialized:" in json.dumps(value):
            raise ModelFileError(path, f"refusing its {key} entry (a pickled value nested inside it)")
    allowed = SAFE_GLOBALS | classes_of(rebuilt.values())
    for key in serialized:
        entry = data[key]
        try:
            payload = base64.b64decode(str(entry[":serialized:"]).encode(), validate=True)
            named = pickled_globals(payload)
        except (binascii.Error, ValueError, KeyError, IndexError) as e:
            raise ModelFileError(path, f"refusing its {key} entry (not a pickle that can be read without running "
                                       f"it: {e})") from None
        strange = sorted(named - allowed)
        if strange:
            raise ModelFileError(path, f"refusing its {key} entry (its pickle names {'.'.join(strange[0])}, which no "
                                       "saved model holds)")
        mismatch = companion_mismatch(entry, rebuilt[key])
        if mismatch:
            raise ModelFileError(path, f"its {key} entry does not match its run's config ({mismatch})")
    return serialized


def classes_of(objects: Iterable[Any]) -> set[tuple[str, str]]:
    """(module, qualified name) of each object that is a class, of each object's class, and one level into dicts."""
    out = set()
    for obj in objects:
        for o in ([obj, *obj.values()] if isinstance(obj, dict) else [obj]):
            if o is None:
                continue
            cls = o if isinstance(o, type) else type(o)
            out.add((cls.__module__, cls.__qualname__))
    return out


def pickled_globals(payload: bytes) -> set[tuple[str, str]]:
    """Every (module, name) the pickle ``payload`` would import, read from its opcodes without running it
    (pickletools only decodes them; the stack is simulated to tell STACK_GLOBAL's operands); ValueError when a
    name cannot be told statically or the pickle uses extension codes or persistent ids."""
    stack: list = []
    memo: dict = {}
    found = set()
    for op, arg, _ in pickletools.genops(payload):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, qualname = str(arg).partition(" ")
            found.add((module, qualname))
        elif name == "STACK_GLOBAL":
            if len(stack) < 2 or not all(isinstance(x, str) for x in stack[-2:]):
                raise ValueError("a global whose name is computed")
            found.add((stack[-2], stack[-1]))
        elif name.startswith("EXT") or "PERSID" in name:
            raise ValueError(f"the {name} opcode")
        if name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
            continue
        if name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
            continue
        if name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
            continue
        before, count = op.stack_before, len(op.stack_before)
        if pickletools.markobject in before or (name == "POP" and stack and stack[-1] is _MARK):
            while stack.pop() is not _MARK:
                pass
            count = before.index(pickletools.markobject) if pickletools.markobject in before else 0
        if count:
            if len(stack) < count:
                raise ValueError("stack underflow")
            del stack[-count:]
        if name in _STRING_OPS:
            stack.append(arg)
        else:
            stack.extend(_MARK if x is pickletools.markobject else _VALUE for x in op.stack_after)
    return found


def companion_mismatch(entry: dict, obj: Any) -> str:
    """How the readable fields SB3 writes next to a pickled value disagree with ``obj`` ('' when they agree)."""
    if obj is None:             # state SB3 rebuilds itself (last observation, episode statistics)
        return ""
    if entry.get(":type:") != str(type(obj)):
        return f"type {entry.get(':type:')} in the file, {type(obj)} rebuilt"
    if isinstance(obj, type):
        if entry.get("__module__", obj.__module__) != obj.__module__:
            return f"class from {entry['__module__']} in the file, {obj.__module__}.{obj.__qualname__} rebuilt"
        return ""
    fields = {k: v for k, v in entry.items() if not k.startswith(":")}
    if isinstance(obj, dict):
        if set(fields) != set(map(str, obj)):
            return f"keys {sorted(fields)} in the file, {sorted(map(str, obj))} rebuilt"
        for k, v in fields.items():
            if v != as_companion(obj[k]):
                return f"{k} {v!r} in the file, {obj[k]!r} rebuilt"
        return ""
    checks = {"_shape": lambda: list(obj.shape), "dtype": lambda: str(obj.dtype),
              "value_schedule": lambda: str(obj.value_schedule)}
    for k, value in checks.items():
        if k in fields and fields[k] != value():
            return f"{k.strip('_')} {fields[k]!r} in the file, {value()!r} rebuilt"
    return ""


def as_companion(value: Any) -> Any:
    """``value`` as SB3 writes it next to a pickled dict: through JSON when JSON holds it, else its str()."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return str(value)
