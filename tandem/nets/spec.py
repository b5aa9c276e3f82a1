"""NetworkSpec: a network as plain, validated, serialisable data, and the block registry that builds it.

A network is a torso (a sequence of blocks) followed by a linear head. Its compact string form is
what ``--actor-net`` and ``--critic-net`` take::

    spec   := block ( ">" block )*
    block  := NAME [ ":" ARG ( "," ARG )* ]

e.g. ``mlp:64,64`` (two hidden layers of 64), ``mlp`` (no hidden layer: a linear network).

A structured observation (a dict of fields, envs/spec.py) enters through an optional inputs section::

    spec   := [ input ( "+" input )* "|" ] torso
    input  := FIELD [ "=" ( "none" | block ( ">" block )* ) ]

each field encoded by its own blocks (``FIELD`` alone: flattened; ``FIELD=none``: not used), the encodings
flattened and concatenated, then the torso: ``grid=conv:16,16+step_count|mlp:64``. The inputs must name
every field but ``action_mask`` (which masks the policy's logits and may be listed to feed it to the network
too); without an inputs section every field but ``action_mask`` is flattened. The
activation is a separate setting (``--activation``); the head (output size and init scale) is chosen by
the algorithm. Every learner builds every network through :func:`build`; the spec's dict form is
stored in ``config.json`` and in each checkpoint's manifest, so a policy is rebuilt from those alone.

A block is an addition: a file in ``nets/`` that calls :func:`register_block` (and one import line in
``nets/__init__.py``), or a call from user code. Blocks are built in order; ``takes_action`` blocks
(e.g. a hypernetwork critic) receive the observation and the action separately, others a single input
(observation and action concatenated for a critic).

A torso with recurrent blocks (``lstm:H``, ``gru:H``; e.g. ``mlp:64>lstm:64``, ``nature_cnn>lstm:256``) makes a
recurrent network: it maps a time-major sequence of observations [T, *B, ...], its carry (one entry per
recurrent block, see :func:`initial_carry`) and episode-start flags [T, *B] to its outputs, the final carry and
the carry after every step. Only the learners built for it (the on-policy ones) accept one.
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
    takes_action: the block takes (obs_features, action) separately (a hypernetwork critic).
    carry: for a recurrent block, ``carry(args, batch_shape)`` -> its zero carry; build(...) then maps
    (x [T, *B, F], carry, reset [T, *B]) to (outputs [T, *B, H], final carry, carry after every step).
    """

    parse: Callable[[list[str]], tuple]
    build: Callable[[tuple, str], Any]
    grammar: str
    flat_input: bool = True
    takes_action: bool = False
    carry: Callable | None = None

    @property
    def recurrent(self) -> bool:
        """A block with a carry (``carry(args, batch_shape)`` -> its zero carry, a tuple of arrays): it takes a
        time-major sequence, the carry at its start and episode-start flags (nets/recurrent.py)."""
        return self.carry is not None


_BLOCKS: dict[str, BlockDef] = {}


class BlockInputError(ValueError):
    """Raised by a block whose input does not fit it (an image too small, features not a whole number of
    tokens); the network names its flag and spec and exits as bad input."""


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
    orthogonally with scale ``head_gain`` (0.01 for a policy head keeps the first policy near uniform).

    inputs: for a structured observation, how each field enters, ``(field, blocks)`` with ``blocks`` a tuple
    of Blocks (empty: flattened) or None (not used); empty: every field but ``action_mask`` flattened."""

    torso: tuple[Block, ...]
    activation: str = "tanh"
    out_dim: int = 1
    head_gain: float = 1.0
    inputs: tuple[tuple[str, tuple[Block, ...] | None], ...] = ()

    @staticmethod
    def from_text(text: str, activation: str, out_dim: int, head_gain: float, flag: str = "--actor-net") -> "NetworkSpec":
        """The spec of a compact string (inputs section and torso), or a TandemInputError naming the token."""
        inputs, torso = parse_spec(text, flag)
        return NetworkSpec(torso, activation, out_dim, head_gain, inputs)

    def to_string(self) -> str:
        """The compact string (``mlp:64,64``, ``board=conv:16+step_count|mlp:64``); :func:`parse_spec` reads it back."""
        torso = ">".join(b.to_string() for b in self.torso)
        return (inputs_string(self.inputs) + "|" + torso) if self.inputs else torso

    def to_dict(self) -> dict:
        """Plain data for config files and checkpoint manifests; :meth:`from_dict` reads it back."""
        d = {"torso": ">".join(b.to_string() for b in self.torso), "activation": self.activation,
             "out_dim": self.out_dim, "head_gain": self.head_gain}
        return {**d, "inputs": inputs_string(self.inputs)} if self.inputs else d

    @staticmethod
    def from_dict(d: dict) -> "NetworkSpec":
        """Rebuild a spec from :meth:`to_dict` (as stored in a checkpoint manifest)."""
        inputs = parse_spec(d["inputs"] + "|mlp")[0] if d.get("inputs") else ()
        return NetworkSpec(parse(d["torso"]), d["activation"], int(d["out_dim"]), float(d["head_gain"]), inputs)


NONE = "none"
"""An input's encoder that leaves the field out of the network (``FIELD=none``)."""


def inputs_string(inputs) -> str:
    """The inputs section in compact form (no trailing ``|``)."""
    def one(name, blocks):
        if blocks is None:
            return f"{name}={NONE}"
        return name + ("=" + ">".join(b.to_string() for b in blocks) if blocks else "")

    return "+".join(one(n, b) for n, b in inputs)


def parse_spec(text: str, flag: str = "--actor-net"):
    """(inputs, torso) of a compact spec string (see the module docstring), or a TandemInputError naming the token."""
    if not isinstance(text, str) or not text.strip():
        return (), parse(text, flag)
    head, bar, tail = text.partition("|")
    if not bar:
        return (), parse(text, flag)
    if "|" in tail:
        raise TandemInputError(f"{flag} {text!r}: more than one '|'; grammar: FIELD[=BLOCKS]+...|TORSO.")
    inputs, seen = [], set()
    for token in head.split("+"):
        name, eq, enc = token.strip().partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise TandemInputError(f"{flag} {text!r}: input {token.strip()!r} does not name an observation field "
                                   f"(token {token.strip()!r}); grammar: FIELD[=none|BLOCK>...]+...|TORSO, e.g. "
                                   f"board=conv:16+step_count|mlp:64.")
        if name in seen:
            raise TandemInputError(f"{flag} {text!r}: field {name!r} is listed twice (token {token.strip()!r}).")
        seen.add(name)
        if eq and enc.strip() == NONE:
            inputs.append((name, None))
        elif eq:
            inputs.append((name, parse(enc, flag)))
        else:
            inputs.append((name, ()))
    return tuple(inputs), parse(tail, flag)


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
    parse_spec(value, "--" + name.replace("_", "-"))


def _grammar() -> str:
    import tandem.nets  # noqa: F401  (registers the built-in blocks)

    return (f"Grammar: BLOCK[:ARG,...][>BLOCK[:ARG,...]...], after FIELD[=none|BLOCK>...]+...| for a structured "
            f"observation; blocks: {allowed_blocks()}.")


check_spec.help = _grammar


def is_recurrent(spec: NetworkSpec) -> bool:
    """Whether the spec's torso holds a recurrent block."""
    import tandem.nets  # noqa: F401  (registers the built-in blocks)

    return any(_BLOCKS[b.name].recurrent for b in spec.torso)


def initial_carry(spec: NetworkSpec, batch_shape: tuple) -> tuple:
    """The zero carry of a recurrent spec for a batch of ``batch_shape``: a tuple with one entry per recurrent
    block of the torso, in order (empty for a feed-forward spec)."""
    return tuple(_BLOCKS[b.name].carry(b.args, tuple(batch_shape)) for b in spec.torso if _BLOCKS[b.name].recurrent)


def network(spec: NetworkSpec, obs, flag: str = "--actor-net", recurrent_ok: bool = False):
    """The flax module of a spec: ``module.apply(params, obs[, action])``; with ``features=True`` it returns
    (output, the features the head reads). A recurrent spec (``recurrent_ok`` must be set by a learner that
    carries its state, else TandemInputError) takes ``carry=`` and ``reset=`` too, ``obs`` is a time-major
    sequence [T, *B, ...], and it returns (output, final carry, carry after every step).

    ``obs``: one observation's shape (a tuple), or its ``envs.spec.obs_struct`` (a ShapeDtypeStruct, or a dict
    of them for a structured observation). Raises TandemInputError (naming ``flag``) when the spec does not fit
    the observation: inputs for an array observation, a field missing or unknown, an image block on a vector.
    """
    import flax.linen as nn
    import jax.numpy as jnp

    fields = dict(obs) if isinstance(obs, dict) else None
    obs_shape = None if fields is not None else tuple(getattr(obs, "shape", obs))
    routes = _routes(spec, fields, obs_shape, flag)
    defs = [(_BLOCKS[b.name], b.args) for b in spec.torso]
    recurrent = any(d.recurrent for d, _ in defs)
    if recurrent and not recurrent_ok:
        name = next(b.name for b in spec.torso if _BLOCKS[b.name].recurrent)
        raise TandemInputError(f"{flag} {spec.to_string()!r}: block {name!r} is recurrent, and this learner does not "
                               f"carry a recurrent state; allowed: a recurrent block with ppo, a2c, a3c or impala, "
                               f"feed-forward blocks (e.g. mlp:256,256) here.")
    for name, blocks in spec.inputs:
        for b in blocks or ():
            if _BLOCKS[b.name].recurrent:
                raise TandemInputError(f"{flag} {spec.to_string()!r}: block {b.name!r} is recurrent and encodes the "
                                       f"input {name!r}; a recurrent block belongs in the torso, after the '|', "
                                       f"e.g. {name}=conv:16|lstm:64.")
    if fields is not None and defs and not defs[0][0].flat_input:
        raise TandemInputError(f"{flag} {spec.to_string()!r}: the torso starts with {spec.torso[0].name!r}, which "
                               f"takes an image, but a structured observation enters the torso as one flat vector; "
                               f"give the image field its own encoder, e.g. FIELD={spec.torso[0].to_string()}+...|mlp:64.")

    def apply_blocks(chain, x, lead, action=None, seq=None):
        """The blocks in order; a critic's action joins the features where they are first flat (before the first
        flat block, or before the head), unless the first block takes it separately. ``seq``: (carry, reset, the
        list the new carries are appended to) for a recurrent torso."""
        x = x.astype(jnp.float32)
        if chain and chain[0][0].takes_action and action is not None:
            x = chain[0][0].build(chain[0][1], spec.activation)(x.reshape(lead + (-1,)), action)
            chain, action = chain[1:], None
        elif chain and not chain[0][0].flat_input and x.ndim == len(lead) + 2:
            x = x[..., None]  # a grid without a channel axis: one channel
        for bdef, args in chain:
            if bdef.takes_action:
                raise TandemInputError(f"{flag} {spec.to_string()!r}: a block that takes the action (hyper) must come "
                                       f"first in a Q critic's torso (--critic-net of sac, td3, ddpg and the offline "
                                       f"Q-learners); here it has no action to take.")
            if bdef.flat_input:
                x = x.reshape(lead + (-1,))
                if action is not None:
                    x, action = jnp.concatenate([x, action.astype(jnp.float32)], axis=-1), None
            try:
                if bdef.recurrent:
                    carry, reset, out = seq
                    x, final, every = bdef.build(args, spec.activation)(x, carry[len(out)], reset)
                    out.append((final, every))
                else:
                    x = bdef.build(args, spec.activation)(x)  # built here, so flax binds and names it
            except BlockInputError as e:
                raise TandemInputError(f"{flag} {spec.to_string()!r}: {e}.") from None
        x = x.reshape(lead + (-1,))
        return x if action is None else jnp.concatenate([x, action.astype(jnp.float32)], axis=-1)

    class Network(nn.Module):
        @nn.compact
        def __call__(self, obs, action=None, features: bool = False, carry=None, reset=None):
            seq = (carry, reset, []) if recurrent else None
            if fields is None:
                lead = obs.shape[: obs.ndim - len(obs_shape)]
                x = apply_blocks(defs, obs, lead, action, seq)
            else:
                name0 = routes[0][0]
                lead = obs[name0].shape[: obs[name0].ndim - len(fields[name0].shape)]
                parts = [apply_blocks([(_BLOCKS[b.name], b.args) for b in blocks], obs[name], lead)
                         for name, blocks in routes]
                x = apply_blocks(defs, jnp.concatenate(parts, axis=-1), lead, action, seq)
            out = nn.Dense(spec.out_dim, kernel_init=nn.initializers.orthogonal(spec.head_gain),
                           bias_init=nn.initializers.zeros, name="head")(x)
            out = (out, x) if features else out  # features: the head's input too (gSDE's noise is linear in it)
            if not recurrent:
                return out
            return out, tuple(f for f, _ in seq[2]), tuple(e for _, e in seq[2])

    return Network()


def _routes(spec: NetworkSpec, fields, obs_shape, flag: str):
    """The used inputs of a structured observation, ``[(field, blocks)]``, checked against its fields."""
    from tandem.envs.spec import ACTION_MASK

    def check_fits(blocks, shape, what):
        if blocks and not _BLOCKS[blocks[0].name].flat_input and len(shape) not in (2, 3):
            raise TandemInputError(f"{flag} {spec.to_string()!r}: block {blocks[0].name!r} takes an image or a grid "
                                   f"([H, W] or [H, W, C]) but {what} has shape {tuple(shape)}; allowed for it: "
                                   f"flat blocks such as mlp.")

    if fields is None:
        if spec.inputs:
            raise TandemInputError(f"{flag} {spec.to_string()!r}: an inputs section ('FIELD...|') is for structured "
                                   f"observations, but this environment's observation is one array of shape "
                                   f"{obs_shape}; give only the torso, e.g. mlp:64,64.")
        check_fits(spec.torso, obs_shape, "the observation")
        return []
    if not spec.inputs:
        routes = [(name, ()) for name in fields if name != ACTION_MASK]
    else:
        unknown = [n for n, _ in spec.inputs if n not in fields]
        if unknown:
            raise TandemInputError(f"{flag} {spec.to_string()!r}: the observation has no field {unknown[0]!r}; its "
                                   f"fields: {', '.join(fields)}.")
        listed = {n for n, _ in spec.inputs}
        missing = [n for n in fields if n not in listed and n != ACTION_MASK]
        if missing:
            raise TandemInputError(f"{flag} {spec.to_string()!r}: the inputs do not cover the observation field(s) "
                                   f"{', '.join(missing)} (fields: {', '.join(fields)}); name each one, as FIELD "
                                   f"(flattened), FIELD=BLOCK>... or FIELD=none (not used).")
        routes = [(n, b) for n, b in spec.inputs if b is not None]
    for name, blocks in routes:
        check_fits(blocks, fields[name].shape, f"field {name!r}")
    if not routes:
        raise TandemInputError(f"{flag} {spec.to_string()!r}: every observation field is left out (=none); "
                               f"at least one must enter the network.")
    return routes


def num_params(params) -> int:
    """The number of scalars in a parameter pytree."""
    import jax

    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
