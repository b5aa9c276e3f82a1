"""The restaurant domain: the ontology (shipped as ontology.json), a venue database generated from a seed, and
user goals.

A goal is a set of constraints (one value per informable slot, ``dontcare`` allowed) and a set of requests
(requestable slots the user wants to hear about the venue). A goal's *final* constraints always match at least
one venue; with probability ``p_change`` the user starts from constraints no venue matches and changes to the
final ones when the system says that nothing matches (the goal change of Schatzmann et al.'s agenda model).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from importlib import resources

import numpy as np

DONTCARE = "dontcare"


@functools.lru_cache(maxsize=1)
def ontology() -> dict:
    """The shipped ontology: informable slots and their values, requestable slots, the database's size."""
    return json.loads(resources.files("tandem.envs.restaurant").joinpath("ontology.json").read_text())


def informable() -> dict[str, tuple[str, ...]]:
    """Each informable slot's values, ``dontcare`` not included (slot order: area, food, pricerange)."""
    return {s: tuple(v) for s, v in ontology()["informable"].items()}


def requestable() -> tuple[str, ...]:
    """The requestable slots (what a user may ask about an offered venue)."""
    return tuple(ontology()["requestable"])


@dataclasses.dataclass(frozen=True)
class Venue:
    """One restaurant: its name, its informable values and its requestable facts."""

    name: str
    values: tuple[tuple[str, str], ...]   # (slot, value) for every informable slot
    facts: tuple[tuple[str, str], ...]    # (slot, text) for every requestable slot

    def value(self, slot: str) -> str:
        """The venue's value of an informable slot."""
        return dict(self.values)[slot]


@functools.lru_cache(maxsize=8)
def database(seed: int = 0) -> tuple[Venue, ...]:
    """The venues, generated deterministically from ``seed``: every informable value drawn uniformly."""
    o, rng = ontology(), np.random.default_rng(seed)
    venues = []
    for k in range(int(o["venues"])):
        values = tuple((s, vals[int(rng.integers(len(vals)))]) for s, vals in informable().items())
        name = f"{o['names'][int(rng.integers(len(o['names'])))]} {o['nouns'][int(rng.integers(len(o['nouns'])))]} {k}"
        facts = {"addr": f"{int(rng.integers(1, 200))} {o['streets'][int(rng.integers(len(o['streets'])))]}",
                 "phone": f"01223 {int(rng.integers(100000, 999999))}",
                 "postcode": f"C.B {int(rng.integers(1, 5))}, {int(rng.integers(1, 9))} "
                             f"{chr(65 + int(rng.integers(26)))}.{chr(65 + int(rng.integers(26)))}"}
        venues.append(Venue(name, values, tuple((r, facts[r]) for r in requestable())))
    return tuple(venues)


def matches(venue: Venue, constraints: dict[str, str]) -> bool:
    """Whether a venue satisfies constraints (a slot missing or ``dontcare`` constrains nothing)."""
    return all(v == DONTCARE or venue.value(s) == v for s, v in constraints.items())


def matching(db: tuple[Venue, ...], constraints: dict[str, str]) -> list[int]:
    """Indices of the venues that satisfy the constraints, in database order."""
    return [i for i, v in enumerate(db) if matches(v, constraints)]


@dataclasses.dataclass
class Goal:
    """A user's goal: ``constraints`` now (may match no venue), ``final`` (matches at least one), ``requests``."""

    constraints: dict[str, str]
    final: dict[str, str]
    requests: tuple[str, ...]

    @property
    def changes(self) -> bool:
        """Whether the user will change the goal (its first constraints match no venue)."""
        return self.constraints != self.final


DONTCARE_P = {"area": 0.2, "food": 0.1, "pricerange": 0.25}
"""Probability that the user has no preference for a slot."""


def sample_goal(rng: np.random.Generator, db: tuple[Venue, ...], p_change: float = 0.2,
                p_request: float = 0.5) -> Goal:
    """A goal drawn from a venue (so it can be satisfied): each slot that venue's value or ``dontcare``, each
    requestable requested with ``p_request``; with ``p_change``, first constraints that differ in one slot and
    match no venue, when such a value exists."""
    venue = db[int(rng.integers(len(db)))]
    final = {s: (DONTCARE if rng.random() < DONTCARE_P[s] else venue.value(s)) for s in informable()}
    requests = tuple(r for r in requestable() if rng.random() < p_request)
    constraints = dict(final)
    if rng.random() < p_change:
        slots = [s for s in informable() if final[s] != DONTCARE]
        if slots:
            slot = slots[int(rng.integers(len(slots)))]
            empty = [v for v in informable()[slot] if not matching(db, {**final, slot: v})]
            if empty:
                constraints[slot] = empty[int(rng.integers(len(empty)))]
    return Goal(constraints, final, requests)
