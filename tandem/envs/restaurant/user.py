"""An agenda-based user simulator (Schatzmann et al. 2007) and an error model for recognition and understanding.

Dialogue acts are tuples ``(act, slot, value)``. The user's acts are ``inform(slot, value)``, ``request(slot)``,
``affirm``, ``negate``, ``reqalts`` (ask for another venue) and ``bye``; the system's are ``request(slot)``,
``confirm(slot, value)``, ``offer(venue)`` (``None``: no venue matches), ``inform(venue, slot)`` and ``bye``.

The agenda is a stack of the user's pending acts (top last): at the start the goal's constraints (those the
user cares about, in random order) above its requests, above ``bye``. Each system act pushes the user's answer
to it (an inform for a request, affirm or negate-and-correct for a confirm, a correction for an offered venue
that breaks a constraint, the goal change when nothing matches), and answered requests are removed. Each turn
the user pops the top act and, with probability 1/2 each, more acts of the same kind (up to three). ``bye`` is
popped only once a matching venue was offered and every request about it answered; before that the user asks
again.
"""

from __future__ import annotations

import numpy as np

from tandem.envs.restaurant.domain import DONTCARE, Goal, Venue, informable, matches, matching, requestable, \
    sample_goal

USER_ACTS = ("inform", "request", "affirm", "negate", "reqalts", "bye")


class User:
    """One simulated user with its goal and agenda; every random choice is drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator, db: tuple[Venue, ...], p_change: float = 0.2,
                 p_request: float = 0.5, p_reqalts: float = 0.1):
        self.rng, self.db, self.p_reqalts = rng, db, p_reqalts
        self.goal: Goal = sample_goal(rng, db, p_change, p_request)
        self.constraints = dict(self.goal.constraints)
        informs = [("inform", s, v) for s, v in self.constraints.items() if v != DONTCARE]
        informs = [informs[i] for i in rng.permutation(len(informs))]
        self.agenda = [("bye", None, None)] + [("request", r, None) for r in reversed(self.goal.requests)] + informs
        self.offered: int | None = None      # the venue last offered (index into db)
        self.answered: set[str] = set()      # requests answered about the offered venue
        self.asked_alternative = False
        self.hung_up = False                 # the user said bye
        self.system_bye = False

    # -- what the user wants -------------------------------------------------------------------
    def satisfied(self) -> bool:
        """A venue matching the (final) constraints was offered and every request about it answered."""
        return (self.offered is not None and matches(self.db[self.offered], self.constraints)
                and set(self.goal.requests) <= self.answered)

    # -- a turn --------------------------------------------------------------------------------
    def start(self) -> list[tuple]:
        """The user's first turn (the system has only greeted)."""
        return self._pop()

    def respond(self, system_acts: list[tuple]) -> list[tuple]:
        """Take in the system's acts, then the user's turn (empty once the system said bye)."""
        for act in system_acts:
            self._receive(act)
        return [] if self.system_bye else self._pop()

    def _push(self, act: tuple) -> None:
        self.agenda.append(act)

    def _drop(self, kind: str, slot: str) -> None:
        self.agenda = [a for a in self.agenda if not (a[0] == kind and a[1] == slot)]

    def _receive(self, act: tuple) -> None:
        kind, slot, value = act
        if kind == "request":
            self._drop("inform", slot)
            self._push(("inform", slot, self.constraints[slot]))
        elif kind == "confirm":
            wanted = self.constraints[slot]
            if value == wanted:
                self._push(("affirm", None, None))
            else:  # "no, I want X" (X may be dontcare)
                self._drop("inform", slot)
                self._push(("inform", slot, wanted))
                self._push(("negate", None, None))
        elif kind == "offer":
            self._offered(value)
        elif kind == "inform":
            if value is not None and value == self.offered:
                self.answered.add(slot)
                self._drop("request", slot)
        elif kind == "bye":
            self.system_bye = True

    def _offered(self, venue: int | None) -> None:
        if venue is None:  # "there is no such venue"
            if not matching(self.db, self.constraints):
                self.constraints = dict(self.goal.final)   # the goal change
                changed = [s for s in self.constraints if self.constraints[s] != self.goal.constraints[s]]
            else:  # the system misunderstood: say it again
                changed = [s for s, v in self.constraints.items() if v != DONTCARE]
            for s in changed:
                self._drop("inform", s)
                self._push(("inform", s, self.constraints[s]))
            return
        if venue != self.offered:
            self.answered = set()
        self.offered = venue
        wrong = [s for s in informable() if not matches(self.db[venue], {s: self.constraints[s]})]
        if wrong:  # "no, I want a cheap one"
            s = wrong[0]
            self._drop("inform", s)
            self._push(("inform", s, self.constraints[s]))
            self._push(("negate", None, None))
            return
        self.agenda = [a for a in self.agenda if a[0] != "inform"]   # the venue already satisfies them
        if not self.asked_alternative and self.rng.random() < self.p_reqalts:
            self.asked_alternative = True
            self._push(("reqalts", None, None))

    def _pop(self) -> list[tuple]:
        if self.agenda[-1][0] == "bye" and not self.satisfied():
            missing = [r for r in self.goal.requests if r not in self.answered]
            cared = [s for s, v in self.constraints.items() if v != DONTCARE]
            if self.offered is not None and matches(self.db[self.offered], self.constraints):
                self._push(("request", missing[0], None))
            elif cared:  # nothing suitable offered yet: say what is wanted again
                s = cared[int(self.rng.integers(len(cared)))]
                self._push(("inform", s, self.constraints[s]))
            else:
                self._push(("reqalts", None, None))   # "anything is fine"
        acts = [self.agenda.pop()]
        if acts[0][0] == "negate" and self.agenda[-1][0] == "inform":
            acts.append(self.agenda.pop())
        elif acts[0][0] in ("inform", "request"):
            while len(acts) < 3 and self.agenda[-1][0] == acts[0][0] and self.rng.random() < 0.5:
                acts.append(self.agenda.pop())
        self.hung_up = acts[0][0] == "bye"
        return acts


CORRECT_CONF, WRONG_CONF = (6.0, 1.5), (2.0, 3.0)
"""Beta distributions of the confidence score of a correct and of a wrong hypothesis (means 0.8 and 0.4)."""


def recognise(rng: np.random.Generator, acts: list[tuple], error_rate: float) -> list[tuple]:
    """What the system's recognition and understanding make of the user's acts: ``(act, slot, value, confidence)``.

    With probability ``error_rate`` an act is misrecognised: an inform gets another value of its slot (or
    ``dontcare``), a request another requestable slot, affirm and negate swap. The confidence score is drawn from
    one Beta distribution for correct hypotheses and another for wrong ones, so it is informative but not exact.
    affirm and negate carry no slot: the tracker relates them to the system's last act."""
    out = []
    for kind, slot, value in acts:
        wrong = rng.random() < error_rate
        if wrong and kind == "inform":
            others = [v for v in informable()[slot] + (DONTCARE,) if v != value]
            value = others[int(rng.integers(len(others)))]
        elif wrong and kind == "request":
            others = [r for r in requestable() if r != slot]
            slot = others[int(rng.integers(len(others)))]
        elif wrong and kind in ("affirm", "negate"):
            kind = "negate" if kind == "affirm" else "affirm"
        else:
            wrong = False
        conf = float(rng.beta(*(WRONG_CONF if wrong else CORRECT_CONF)))
        out.append((kind, slot if kind in ("inform", "request") else None, value if kind == "inform" else None, conf))
    return out
