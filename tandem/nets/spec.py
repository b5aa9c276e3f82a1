"""NetworkSpec: a network as plain, validated, serialisable data, and the block registry that builds it.

A network is a torso (a sequence of blocks) followed by a linear head. Its compact string form is
what ``--actor-net`` and ``--critic-net`` take::

    spec   := block ( ">" block )*
    block  := NAME [ ":" ARG ( "," ARG )* ]

e.g. ``mlp:64,64`` (two hidden layers of 64), ``mlp`` (no hidden layer: a linear network). The
activation is a separate setting (``--activation``); the head (output size and init scale) is chosen by
the algorithm. Every learner builds every network through :func:`build`; the spec's dict form is
stored in ``config.json`` and in each checkpoint's manifest, so a policy is rebuilt from those alone.

A block is an addition: a file in ``nets/`` that calls :func:`register_block` (and one import line in
``nets/__init__.py``), or a call from user code. Blocks are built in order; ``takes_action`` blocks
(e.g. a hypernetwork critic) receive the observation and the action separately, others a single input
(observation and action concatenated for a critic).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from tandem.errors import TandemInputError

ACTIVATIONS = ("tanh", "relu", "gelu", "silu", "elu")


@dataclasses.dataclass(frozen=True)
class BlockDef:
    """How a block is parsed and built.

    parse(args: list[str]) -> tuple: validated, typed arguments (raise ValueError naming the bad token).
    build(args, activation: str) -> a flax module mapping [..., features_in] to [..., features_out]
    (or, with takes_action, (obs_features, action) to [..., features_out]).
    grammar: one line for ``--help`` and errors, e.g. ``mlp:W1,W2,... hidden layer widths``.
    flat_input: the block takes a flat feature vector (observations are flattened and cast to float32
    before it); False for blocks that take images ([..., H, W, C], possibly uint8).
    """

    parse: Callable[[list[str]], tuple]
    build: Callable[[tuple, str], Any]
    grammar: str
    flat_input: bool = True
    takes_action: bool = False


_BLOCKS: dict[str, BlockDef] = {}


def register_block(name: str, block: BlockDef) -> None:
    """Add a block to the registry under ``name`` (a lowercase identifier)."""
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"block name {name!r}: expected a lowercase identifier")
    _BLOCKS[name] = block


def blocks() -> dict[str, BlockDef]:
    """The registered blocks, by name."""
    return dict(_BLOCKS)


def allowed_blocks() -> str:
    """The grammar line of every registered block, for messages and --help."""
    return "; ".join(b.grammar for b in _BLOCKS.values())


@dataclasses.dataclass(frozen=True)
class Block:
    """One block of a torso: its registered name and its parsed arguments."""

    name: str
    args: tuple = ()

    def to_string(self) -> str:
        """The compact form: ``name:arg,arg``."""
        return self.name + (":" + ",".join(str(a) for a in self.args) if self.args else "")


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """A torso of blocks, an activation, and a linear head of ``out_dim`` outputs initialised
    orthogonally with scale ``head_gain`` (0.01 for a policy head keeps the first policy near uniform)."""

    torso: tuple[Block, ...]
    activation: str = "tanh"
    out_dim: int = 1
    head_gain: float = 1.0

    def to_string(self) -> str:
        """The compact torso string (``mlp:64,64``); :func:`parse` reads it back."""
        return ">".join(b.to_string() for b in self.torso)

    def to_dict(self) -> dict:
        """Plain data for config files and checkpoint manifests; :meth:`from_dict` reads it back."""
        return {"torso": self.to_string(), "activation": self.activation, "out_dim": self.out_dim,
                "head_gain": self.head_gain}

    @staticmethod
    def from_dict(d: dict) -> "NetworkSpec":
        """Rebuild a spec from :meth:`to_dict` (as stored in a checkpoint manifest)."""
        return NetworkSpec(parse(d["torso"]), d["activation"], int(d["out_dim"]), float(d["head_gain"]))


def parse(text: str, flag: str = "--actor-net") -> tuple[Block, ...]:
    """The torso of a compact spec string, or a TandemInputError naming the token and the blocks allowed."""
    import tandem.nets  # noqa: F401  (registers the built-in blocks)

    if not isinstance(text, str) or not text.strip():
        raise TandemInputError(f"{flag} {text!r} is empty; allowed blocks: {allowed_blocks()}.")
    out = []
    for token in text.strip().split(">"):
        name, colon, rest = token.strip().partition(":")
        name = name.strip()
        if name not in _BLOCKS:
            raise TandemInputError(f"{flag} {text!r}: unknown block {name!r} (token {token!r}); allowed blocks: "
                                   f"{allowed_blocks()}.")
        if colon and not rest.strip():
            raise TandemInputError(f"{flag} {text!r}: no arguments after ':' (token {token!r}); allowed blocks: "
                                   f"{allowed_blocks()}.")
        args = [a.strip() for a in rest.split(",")] if rest.strip() else []
        try:
            parsed = tuple(_BLOCKS[name].parse(args))
        except ValueError as e:
            raise TandemInputError(f"{flag} {text!r}: {e} (token {token!r}); allowed blocks: "
                                   f"{allowed_blocks()}.") from None
        out.append(Block(name, parsed))
    return tuple(out)


def check_spec(name: str, value: str) -> None:
    """A config-field check (fields.field(check=...)): the value parses as a network spec."""
    parse(value, "--" + name.replace("_", "-"))


def _grammar() -> str:
    import tandem.nets  # noqa: F401  (registers the built-in blocks)

    return f"Grammar: BLOCK[:ARG,...][>BLOCK[:ARG,...]...]; blocks: {allowed_blocks()}."


check_spec.help = _grammar


def network(spec: NetworkSpec, obs_shape: tuple[int, ...]):
    """The flax module of a spec for observations of ``obs_shape``: ``module.apply(params, obs[, action])``."""
    import flax.linen as nn
    import jax.numpy as jnp

    obs_ndim = len(obs_shape)
    defs = [(_BLOCKS[b.name], b.args) for b in spec.torso]

    class Network(nn.Module):
        @nn.compact
        def __call__(self, obs, action=None):
            lead = obs.shape[: obs.ndim - obs_ndim]
            x = obs
            first = defs[0][0] if defs else None
            if first is None or first.flat_input:
                x = x.reshape(lead + (-1,)).astype(jnp.float32)
                if action is not None and not (first is not None and first.takes_action):
                    x = jnp.concatenate([x, action.astype(jnp.float32)], axis=-1)
            for i, (bdef, args) in enumerate(defs):
                module = bdef.build(args, spec.activation)  # built here, so flax binds and names it
                if bdef.takes_action and i == 0 and action is not None:
                    x = module(x, action)
                else:
                    if bdef.flat_input and x.ndim != len(lead) + 1:
                        x = x.reshape(lead + (-1,))
                    x = module(x)
            x = x.reshape(lead + (-1,))
            return nn.Dense(spec.out_dim, kernel_init=nn.initializers.orthogonal(spec.head_gain),
                            bias_init=nn.initializers.zeros, name="head")(x)

    return Network()


def num_params(params) -> int:
    """The number of scalars in a parameter pytree."""
    import jax

    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
