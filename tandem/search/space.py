"""Search spaces as data: which actor (and critic) MLP shapes and activations an architecture search may try.

The compact form (``--space``)::

    space  := item ( ";" item )*
    item   := NET "=mlp:" DEPTHS "x" WIDTHS  |  "activation=" ACT ( "," ACT )*
    NET    := "actor" | "critic"
    DEPTHS := D | D "-" D            (hidden layers; 0 is a linear network)
    WIDTHS := W ( "," W )*           (the widths every hidden layer chooses from)

e.g. ``actor=mlp:1-4x4,8,16,32,64,128,256`` (HyperPPO's space, the default: 7 + 7^2 + 7^3 + 7^4 = 2,800
shapes) or ``actor=mlp:1-2x8,16,32;critic=mlp:1-2x32,64;activation=tanh,relu``. A net left out stays what the
algorithm's config says (the critic is fixed by default: only the actor is deployed); so does the activation.
The same space as a JSON file (``--space space.json``)::

    {"actor": {"depth": [1, 4], "widths": [4, 8, 16, 32, 64, 128, 256]}, "activation": ["tanh"]}

An architecture is a point of the space: actor widths, critic widths (None: fixed), activation (None: fixed).
Strategies see it as a fixed-length vector of choices (:meth:`Space.decisions`): per searched net its depth
then ``max_depth`` widths (those past the depth are ignored, canonically 0), then the activation.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from tandem.errors import TandemInputError
from tandem.nets.spec import ACTIVATIONS

NETS = ("actor", "critic")
MAX_DEPTH = 16
MAX_WIDTH = 1 << 16
DEFAULT_SPACE = "actor=mlp:1-4x4,8,16,32,64,128,256"
"""HyperPPO's space: actor MLPs of 1-4 hidden layers, each of width 4-256 (2,800 shapes); the critic fixed."""

_GRAMMAR = ("grammar: actor=mlp:DEPTHSxW1,W2,...[;critic=mlp:DEPTHSxW1,...][;activation=A1,A2,...], DEPTHS a "
            "number of hidden layers or a range D1-D2, e.g. actor=mlp:1-4x4,8,16,32,64,128,256; or a JSON file")


@dataclasses.dataclass(frozen=True)
class NetChoices:
    """One searched MLP: depths from ``min_depth`` to ``max_depth`` hidden layers, each layer's width from ``widths``."""

    min_depth: int
    max_depth: int
    widths: tuple[int, ...]

    @property
    def size(self) -> int:
        """How many distinct shapes: the sum over depths d of len(widths)^d."""
        return sum(len(self.widths) ** d for d in range(self.min_depth, self.max_depth + 1))

    def to_string(self) -> str:
        """The compact form ``mlp:1-4x4,8``."""
        depths = str(self.min_depth) if self.min_depth == self.max_depth else f"{self.min_depth}-{self.max_depth}"
        return f"mlp:{depths}x" + ",".join(map(str, self.widths))


@dataclasses.dataclass(frozen=True)
class Arch:
    """A point of a space: hidden widths of the actor, of the critic (None: the config's), the activation (None:
    the config's)."""

    actor: tuple[int, ...] | None
    critic: tuple[int, ...] | None = None
    activation: str | None = None

    def overrides(self) -> dict:
        """The config overrides that train it: actor_net, critic_net, activation (those searched)."""
        out = {}
        for name in NETS:
            widths = getattr(self, name)
            if widths is not None:
                out[f"{name}_net"] = "mlp" + (":" + ",".join(map(str, widths)) if widths else "")
        if self.activation is not None:
            out["activation"] = self.activation
        return out

    def label(self) -> str:
        """A short name: ``actor=mlp:32,32`` joined with the other searched parts by ``;``."""
        return ";".join(f"{k}={v}" for k, v in self.overrides().items())

    def to_dict(self) -> dict:
        """Plain data for search.json; :meth:`from_dict` reads it back."""
        return {"actor": None if self.actor is None else list(self.actor),
                "critic": None if self.critic is None else list(self.critic), "activation": self.activation}

    @staticmethod
    def from_dict(d: dict) -> "Arch":
        """The architecture of :meth:`to_dict`."""
        return Arch(None if d["actor"] is None else tuple(d["actor"]),
                    None if d["critic"] is None else tuple(d["critic"]), d["activation"])


@dataclasses.dataclass(frozen=True)
class Space:
    """Searched nets (``actor``/``critic``: NetChoices or None for fixed) and activations (empty: fixed)."""

    actor: NetChoices | None
    critic: NetChoices | None = None
    activations: tuple[str, ...] = ()

    # -- size and enumeration ---------------------------------------------------------------------
    @property
    def size(self) -> int:
        """How many architectures the space holds (a product over its searched parts)."""
        return math.prod(n.size for n in self.nets().values()) * max(1, len(self.activations))

    def nets(self) -> dict[str, NetChoices]:
        """The searched nets by name, in order (actor, critic)."""
        return {name: getattr(self, name) for name in NETS if getattr(self, name) is not None}

    def enumerate(self, limit: int = 1_000_000):
        """Every architecture, in a fixed order (depth first, then widths lexicographically); a space larger than
        ``limit`` raises TandemInputError (sample it instead)."""
        import itertools

        if self.size > limit:
            raise TandemInputError(f"--space {self.to_string()!r} holds {self.size} architectures; enumerating is "
                                   f"allowed up to {limit}.")
        per_net = [[tuple(w) for d in range(n.min_depth, n.max_depth + 1) for w in itertools.product(n.widths, repeat=d)]
                   for n in self.nets().values()]
        names = list(self.nets())
        for acts in (self.activations or (None,)):
            for combo in itertools.product(*per_net):
                parts = dict(zip(names, combo))
                yield Arch(parts.get("actor"), parts.get("critic"), acts)

    def to_string(self) -> str:
        """The compact form :func:`parse_space` reads back."""
        items = [f"{name}={net.to_string()}" for name, net in self.nets().items()]
        if self.activations:
            items.append("activation=" + ",".join(self.activations))
        return ";".join(items)

    def to_dict(self) -> dict:
        """Plain data (the JSON form)."""
        out = {name: {"depth": [n.min_depth, n.max_depth], "widths": list(n.widths)} for name, n in self.nets().items()}
        if self.activations:
            out["activation"] = list(self.activations)
        return out

    # -- decisions: the vector of choices strategies work on --------------------------------------
    def decisions(self) -> list[int]:
        """The number of options of each decision, in order: per searched net its depth (max-min+1 options) then
        ``max_depth`` widths; then the activation when searched."""
        out = []
        for n in self.nets().values():
            out += [n.max_depth - n.min_depth + 1] + [len(n.widths)] * n.max_depth
        if self.activations:
            out.append(len(self.activations))
        return out

    def active(self, choices) -> list[bool]:
        """Which decisions matter for ``choices`` (the widths past a net's depth do not)."""
        out, i = [], 0
        for n in self.nets().values():
            depth = n.min_depth + int(choices[i])
            out += [True] + [j < depth for j in range(n.max_depth)]
            i += 1 + n.max_depth
        if self.activations:
            out.append(True)
        return out

    def decode(self, choices) -> Arch:
        """The architecture of a choice vector (unused widths ignored)."""
        parts, i = {}, 0
        for name, n in self.nets().items():
            depth = n.min_depth + int(choices[i])
            parts[name] = tuple(n.widths[int(c)] for c in choices[i + 1: i + 1 + depth])
            i += 1 + n.max_depth
        act = self.activations[int(choices[i])] if self.activations else None
        return Arch(parts.get("actor"), parts.get("critic"), act)

    def encode(self, arch: Arch) -> list[int]:
        """The canonical choice vector of an architecture (unused widths 0); TandemInputError if it is not in the
        space."""
        out = []
        for name, n in self.nets().items():
            widths = getattr(arch, name)
            if widths is None or not n.min_depth <= len(widths) <= n.max_depth or any(w not in n.widths for w in widths):
                raise TandemInputError(f"architecture {arch.label()!r} is not in the space {self.to_string()!r}.")
            out += [len(widths) - n.min_depth] + [n.widths.index(w) for w in widths] + [0] * (n.max_depth - len(widths))
        if self.activations:
            if arch.activation not in self.activations:
                raise TandemInputError(f"architecture {arch.label()!r} is not in the space {self.to_string()!r}.")
            out.append(self.activations.index(arch.activation))
        return out

    def canonical(self, choices) -> list[int]:
        """``choices`` with the widths that do not matter set to 0 (one vector per architecture)."""
        return [int(c) if a else 0 for c, a in zip(choices, self.active(choices))]

    def sample(self, rng: np.random.Generator) -> Arch:
        """One architecture drawn uniformly from the whole space (depth weighted by its number of shapes)."""
        choices = []
        for n in self.nets().values():
            sizes = np.array([len(n.widths) ** d for d in range(n.min_depth, n.max_depth + 1)], np.float64)
            depth_i = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
            choices += [depth_i] + [int(rng.integers(len(n.widths))) for _ in range(n.max_depth)]
        if self.activations:
            choices.append(int(rng.integers(len(self.activations))))
        return self.decode(choices)


def parse_space(text: str) -> Space:
    """The Space of a compact string or of a JSON file's path (see the module docstring), or a TandemInputError
    naming the token and the grammar."""
    if not isinstance(text, str) or not text.strip():
        raise TandemInputError(f"--space {text!r} is empty; {_GRAMMAR}.")
    text = text.strip()
    if text.endswith(".json") or (Path(text).is_file() and "=" not in text):
        return _from_json(Path(text))
    parts, acts = {}, ()
    for token in text.split(";"):
        key, eq, value = token.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not value:
            raise TandemInputError(f"--space {text!r}: token {token.strip()!r} is not NAME=VALUE; {_GRAMMAR}.")
        if key in parts or (key == "activation" and acts):
            raise TandemInputError(f"--space {text!r}: {key!r} is given twice (token {token.strip()!r}).")
        if key == "activation":
            acts = _activations([a.strip() for a in value.split(",")], text)
        elif key in NETS:
            parts[key] = _net(value, token.strip(), text)
        else:
            raise TandemInputError(f"--space {text!r}: unknown part {key!r} (token {token.strip()!r}); allowed: "
                                   f"actor, critic, activation; {_GRAMMAR}.")
    return _checked(Space(parts.get("actor"), parts.get("critic"), acts), text)


def _net(value: str, token: str, text: str) -> NetChoices:
    block, colon, rest = value.partition(":")
    if block.strip() != "mlp":
        raise TandemInputError(f"--space {text!r}: block {block.strip()!r} in token {token!r} cannot be searched; "
                               f"allowed: mlp; {_GRAMMAR}.")
    depths, x, widths = rest.partition("x")
    if not colon or not x:
        raise TandemInputError(f"--space {text!r}: token {token!r} is not mlp:DEPTHSxWIDTHS; {_GRAMMAR}.")
    lo, dash, hi = depths.strip().partition("-")
    try:
        d0, d1 = int(lo), int(hi if dash else lo)
        ws = tuple(int(w) for w in widths.split(","))
    except ValueError:
        raise TandemInputError(f"--space {text!r}: token {token!r} holds a value that is not an integer; "
                               f"{_GRAMMAR}.") from None
    return _net_checked(d0, d1, ws, token, text)


def _net_checked(d0: int, d1: int, ws: tuple[int, ...], token: str, text: str) -> NetChoices:
    if not 0 <= d0 <= d1 <= MAX_DEPTH:
        raise TandemInputError(f"--space {text!r}: depths {d0}-{d1} in token {token!r}; allowed: 0 <= D1 <= D2 <= "
                               f"{MAX_DEPTH} hidden layers.")
    if d1 > 0 and not ws:
        raise TandemInputError(f"--space {text!r}: no widths in token {token!r}; {_GRAMMAR}.")
    bad = [w for w in ws if not 1 <= w <= MAX_WIDTH]
    if bad:
        raise TandemInputError(f"--space {text!r}: width {bad[0]} in token {token!r}; allowed: 1 to {MAX_WIDTH}.")
    if len(set(ws)) != len(ws):
        raise TandemInputError(f"--space {text!r}: a width is listed twice in token {token!r}.")
    return NetChoices(d0, d1, tuple(sorted(ws)))


def _activations(names: list[str], text: str) -> tuple[str, ...]:
    for a in names:
        if a not in ACTIVATIONS:
            raise TandemInputError(f"--space {text!r}: unknown activation {a!r}; allowed: {', '.join(ACTIVATIONS)}.")
    if len(set(names)) != len(names):
        raise TandemInputError(f"--space {text!r}: an activation is listed twice.")
    return tuple(names)


def _from_json(path: Path) -> Space:
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise TandemInputError(f"--space {str(path)!r}: no such file; {_GRAMMAR}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TandemInputError(f"--space {str(path)!r}: not valid JSON ({e}).") from None
    if not isinstance(d, dict):
        raise TandemInputError(f"--space {str(path)!r}: expected a JSON object with keys actor, critic, activation.")
    unknown = sorted(set(d) - set(NETS) - {"activation"})
    if unknown:
        raise TandemInputError(f"--space {str(path)!r}: unknown key {unknown[0]!r}; allowed: actor, critic, activation.")
    parts = {}
    for name in NETS:
        if name not in d:
            continue
        net = d[name]
        ok = (isinstance(net, dict) and isinstance(net.get("depth"), list) and len(net["depth"]) == 2
              and isinstance(net.get("widths"), list)
              and all(isinstance(v, int) and not isinstance(v, bool) for v in net["depth"] + net["widths"]))
        if not ok:
            raise TandemInputError(f"--space {str(path)!r}: {name!r} must be {{\"depth\": [D1, D2], \"widths\": "
                                   f"[W1, ...]}} with integers, got {json.dumps(net)}.")
        parts[name] = _net_checked(net["depth"][0], net["depth"][1], tuple(net["widths"]), name, str(path))
    acts = d.get("activation", [])
    if not isinstance(acts, list) or not all(isinstance(a, str) for a in acts):
        raise TandemInputError(f"--space {str(path)!r}: 'activation' must be a list of names; allowed: "
                               f"{', '.join(ACTIVATIONS)}.")
    return _checked(Space(parts.get("actor"), parts.get("critic"), _activations(acts, str(path))), str(path))


def _checked(space: Space, text: str) -> Space:
    if not space.nets() and not space.activations:
        raise TandemInputError(f"--space {text!r} searches nothing; {_GRAMMAR}.")
    if space.size < 2:
        raise TandemInputError(f"--space {text!r} holds {space.size} architecture: nothing to search; allowed: a space "
                               f"of at least 2.")
    return space
