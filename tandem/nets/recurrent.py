"""The recurrent blocks ``lstm:H`` and ``gru:H``: a cell of H units scanned over the time axis, its carry reset
to zeros where an episode starts.

A recurrent block maps a sequence ``x`` [T, *B, F] (time first), the carry at its start ([*B, H] arrays) and the
episode-start flags ``reset`` [T, *B] (True: the carry is zeroed before step t) to (outputs [T, *B, H], the carry
after the last step, the carry after every step [T, *B, H]). Acting is a sequence of length 1. The input
projections of every step are one matrix product before the scan; only the recurrent product is sequential.

- LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): z = x W + h U + b split into (i, f, g, o);
  c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c'). Carry (h, c). Parameters: 4H (F + H + 1).
- GRU (Cho et al. 2014, the form of PyTorch and Flax): r = sigmoid(x W_r + h U_r + b_r),
  u = sigmoid(x W_u + h U_u + b_u), n = tanh(x W_n + b_n + r (h U_n + b_hn)), h' = (1 - u) n + u h. Carry (h,).
  Parameters: 3H (F + H + 1) + H.

Weights are initialised orthogonally (gain 1), biases at zero but the LSTM's forget gate's at 1 (Gers et al.
2000; Jozefowicz et al. 2015): with a zero bias the forget gate starts near 1/2 and an LSTM forgets half its cell
each step, so a cue 15 steps back reaches the output (and its gradient the input) scaled by about 2^-15.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from tandem.nets.mlp import parse_widths
from tandem.nets.spec import BlockDef, register_block


def _reset(carry, r):
    """The carry zeroed where ``r`` [*B] is True."""
    return tuple(jnp.where(r[..., None], 0.0, c) for c in carry)


def lstm_step(params, carry, x_proj, reset):
    """One LSTM step: ``x_proj`` = x W + b [*B, 4H] (the input's part), carry (h, c) -> the new carry."""
    h, c = _reset(carry, reset)
    i, f, g, o = jnp.split(x_proj + h @ params["U"], 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def gru_step(params, carry, x_proj, reset):
    """One GRU step: ``x_proj`` = x W + b [*B, 3H] (the input's part), carry (h,) -> the new carry."""
    (h,) = _reset(carry, reset)
    xr, xu, xn = jnp.split(x_proj, 3, axis=-1)
    hr, hu, hn = jnp.split(h @ params["U"], 3, axis=-1)
    r, u = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xu + hu)
    n = jnp.tanh(xn + r * (hn + params["b_hn"]))
    return ((1.0 - u) * n + u * h,)


CELLS = {"lstm": (4, 2, lstm_step), "gru": (3, 1, gru_step)}
"""name -> (gates, carry arrays, step function)."""


class Recurrent(nn.Module):
    """[T, *B, F] sequence, carry, reset [T, *B] -> (outputs [T, *B, H], final carry, carry after every step)."""

    kind: str
    hidden: int

    @nn.compact
    def __call__(self, x, carry, reset):
        gates, _, step = CELLS[self.kind]
        H, F = self.hidden, x.shape[-1]
        init = nn.initializers.orthogonal(1.0)
        params = {"W": self.param("W", init, (F, gates * H)), "U": self.param("U", init, (H, gates * H)),
                  "b": self.param("b", lambda k, shape: bias_init(self.kind, H), (gates * H,))}
        if self.kind == "gru":
            params["b_hn"] = self.param("b_hn", nn.initializers.zeros, (H,))
        x_proj = x @ params["W"] + params["b"]

        def body(c, inp):
            c = step(params, c, *inp)
            return c, c

        final, every = jax.lax.scan(body, tuple(carry), (x_proj, reset))
        return every[0], final, every


def bias_init(kind: str, hidden: int) -> jax.Array:
    """The input bias at initialisation: zeros, the LSTM's forget gate (its second quarter) at 1."""
    b = jnp.zeros((CELLS[kind][0] * hidden,), jnp.float32)
    return b.at[hidden:2 * hidden].set(1.0) if kind == "lstm" else b


def initial_carry(kind: str, hidden: int, batch_shape: tuple) -> tuple:
    """The zero carry of a ``kind`` cell of ``hidden`` units for a batch of ``batch_shape``."""
    return tuple(jnp.zeros(tuple(batch_shape) + (hidden,), jnp.float32) for _ in range(CELLS[kind][1]))


def parse_hidden(args: list[str]) -> tuple:
    """One positive width."""
    if len(args) != 1:
        raise ValueError(f"expected one width (the number of units), got {len(args)} arguments")
    return parse_widths(args)


for _kind, _name in (("lstm", "LSTM"), ("gru", "GRU")):
    register_block(_kind, BlockDef(
        parse=parse_hidden, build=lambda args, activation, kind=_kind: Recurrent(kind, args[0]),
        grammar=f"{_kind}:H ({_name} of H units, recurrent: on-policy learners only)",
        carry=lambda args, batch_shape, kind=_kind: initial_carry(kind, args[0], batch_shape)))
