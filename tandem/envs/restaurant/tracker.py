"""A rule-based belief tracker of the kind of DSTC2's "focus" baseline (Henderson et al. 2014).

Per informable slot, a distribution over its values and ``dontcare`` (what is left is "not mentioned"); per
requestable slot, the probability that the user asked for it and has not been answered. A turn's hypotheses
``(act, slot, value, confidence)`` (user.recognise) update it:

- inform(s, v) with confidence c, and affirm (confidence c) after the system's confirm(s, v), add c to the
  turn's score q_s(v); then b_s <- (1 - sum q_s) b_s + q_s (q_s scaled to sum to 1 if it sums to more);
- negate (confidence c) after the system's confirm(s, v) scales b_s(v) by 1 - c;
- request(r) with confidence c: p_r <- 1 - (1 - p_r)(1 - c); the system's inform(venue, r) sets p_r to 0;
- affirm, negate, reqalts and bye are also kept as this turn's confidence of each (0 when absent).
"""

from __future__ import annotations

import numpy as np

from tandem.envs.restaurant.domain import DONTCARE, informable, requestable

FLAGS = ("affirm", "negate", "reqalts", "bye")


def slot_values(slot: str) -> tuple[str, ...]:
    """A slot's values in the tracker's order: the ontology's, then ``dontcare``."""
    return informable()[slot] + (DONTCARE,)


class Tracker:
    """The belief state of one dialogue."""

    def __init__(self):
        self.slots = {s: np.zeros(len(slot_values(s))) for s in informable()}
        self.requests = np.zeros(len(requestable()))
        self.flags = np.zeros(len(FLAGS))

    def update(self, system_acts: list[tuple], hypotheses: list[tuple]) -> None:
        """One turn: the system's acts, then what was understood of the user's answer."""
        confirmed = [(s, v) for kind, s, v in system_acts if kind == "confirm"]
        for kind, slot, _ in system_acts:
            if kind == "inform":
                self.requests[requestable().index(slot)] = 0.0
        scores = {s: np.zeros_like(b) for s, b in self.slots.items()}
        self.flags = np.zeros(len(FLAGS))
        for kind, slot, value, conf in hypotheses:
            if kind == "inform":
                scores[slot][slot_values(slot).index(value)] += conf
            elif kind == "request":
                k = requestable().index(slot)
                self.requests[k] = 1.0 - (1.0 - self.requests[k]) * (1.0 - conf)
            if kind in FLAGS:
                self.flags[FLAGS.index(kind)] = max(self.flags[FLAGS.index(kind)], conf)
            if kind == "affirm":
                for s, v in confirmed:
                    scores[s][slot_values(s).index(v)] += conf
            elif kind == "negate":
                for s, v in confirmed:
                    self.slots[s][slot_values(s).index(v)] *= 1.0 - conf
        for s, q in scores.items():
            total = q.sum()
            if total > 1.0:
                q = q / total
                total = 1.0
            self.slots[s] = (1.0 - total) * self.slots[s] + q

    def top(self, slot: str) -> tuple[str | None, float]:
        """The most likely value of a slot and its probability (None, 0 when never mentioned)."""
        b = self.slots[slot]
        k = int(np.argmax(b))
        return (slot_values(slot)[k], float(b[k])) if b[k] > 0 else (None, 0.0)

    def constraints(self) -> dict[str, str]:
        """The most likely value of every mentioned slot (what the system would search the database with)."""
        return {s: v for s in informable() for v, _ in [self.top(s)] if v is not None}
