"""Search strategies behind one interface: ``propose(n)`` a batch of architectures, ``observe(archs, scores)``.

- ``random``: uniform over the whole space, never proposing an architecture twice while untried ones remain.
- ``evolution``: regularised (aging) evolution (Real et al. 2019): the first ``population`` proposals are random;
  then each child mutates one choice of the best of ``sample`` members drawn from the population, and the
  population keeps the newest ``population`` members (the oldest dies, however good).
- ``grid``: every architecture once, in the order of the choice vectors (a sweep: with a budget of the space's
  size it trains the whole space, the ground truth strategies are measured against, search/tabular.py).
- ``controller``: an autoregressive policy over the space's decisions trained by tandem's own PPO learner
  (search/controller.py), the RL controller of ENAS and GraphNAS.

Every strategy is deterministic given its seed and the scores it observed, so a search resumes by replaying its
history (search/run.py). A registry line adds one: ``STRATEGIES[name] = factory(space, seed, batch)``.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from tandem.search.space import Arch, Space


class Strategy(Protocol):
    """What every search strategy implements."""

    def propose(self, n: int) -> list[Arch]:
        """The next ``n`` architectures to train."""

    def observe(self, archs: list[Arch], scores: list[float]) -> None:
        """The scores of the architectures proposed last (higher is better)."""


class RandomSearch:
    """Uniform samples of the space; an architecture already proposed is drawn again only once every other one has
    been (or after many tries in a huge space)."""

    def __init__(self, space: Space, seed: int):
        self.space, self.rng, self.seen = space, np.random.default_rng(seed), set()

    def propose(self, n: int) -> list[Arch]:
        """``n`` fresh uniform samples."""
        out = []
        for _ in range(n):
            arch = self.space.sample(self.rng)
            for _ in range(100):
                if arch not in self.seen or len(self.seen) >= self.space.size:
                    break
                arch = self.space.sample(self.rng)
            self.seen.add(arch)
            out.append(arch)
        return out

    def observe(self, archs, scores) -> None:
        """Random search ignores scores."""


class GridSearch:
    """The space's architectures one after another (choice vectors in lexicographic order, canonical ones only);
    after the last, from the first again."""

    def __init__(self, space: Space):
        self.space, self._it = space, self._all()

    def _all(self):
        import itertools

        while True:
            for c in itertools.product(*(range(k) for k in self.space.decisions())):
                if list(c) == self.space.canonical(c):
                    yield self.space.decode(c)

    def propose(self, n: int) -> list[Arch]:
        """The next ``n``."""
        return [next(self._it) for _ in range(n)]

    def observe(self, archs, scores) -> None:
        """A sweep ignores scores."""


def mutate(space: Space, arch: Arch, rng: np.random.Generator) -> Arch:
    """One decision that matters (a depth, an active layer's width, the activation) changed to another of its
    options; a layer a deeper depth adds gets a uniform width. Always a different architecture of the space."""
    choices = space.encode(arch)
    options = space.decisions()
    movable = [i for i, (a, k) in enumerate(zip(space.active(choices), options)) if a and k > 1]
    i = int(rng.choice(movable))
    new = list(choices)
    new[i] = int((choices[i] + 1 + rng.integers(options[i] - 1)) % options[i])
    before, after = space.active(choices), space.active(new)
    for j, (was, now) in enumerate(zip(before, after)):
        if now and not was:
            new[j] = int(rng.integers(options[j]))
    return space.decode(space.canonical(new))


class RegularisedEvolution:
    """Aging evolution: tournament selection of ``sample`` members, one mutation per child, the oldest removed."""

    def __init__(self, space: Space, seed: int, population: int = 16, sample: int = 4):
        self.space, self.rng = space, np.random.default_rng(seed)
        self.size, self.sample = population, sample
        self.population: list[tuple[Arch, float]] = []  # oldest first
        self.random = RandomSearch(space, seed + 1)

    def propose(self, n: int) -> list[Arch]:
        """Random members until the population is full, then mutated tournament winners."""
        if len(self.population) < self.size:
            return self.random.propose(n)
        out = []
        for _ in range(n):
            idx = self.rng.choice(len(self.population), size=min(self.sample, len(self.population)), replace=False)
            parent = max((self.population[i] for i in idx), key=lambda m: m[1])[0]
            out.append(mutate(self.space, parent, self.rng))
        return out

    def observe(self, archs, scores) -> None:
        """The children join; the oldest leave once the population is over its size."""
        self.population += list(zip(archs, scores))
        del self.population[: max(0, len(self.population) - self.size)]


def _controller(space: Space, seed: int, batch: int):
    from tandem.search.controller import Controller

    return Controller(space, seed, batch)


STRATEGIES: dict[str, Callable[[Space, int, int], Strategy]] = {
    "random": lambda space, seed, batch: RandomSearch(space, seed),
    "evolution": lambda space, seed, batch: RegularisedEvolution(space, seed, population=max(8, 2 * batch),
                                                                 sample=max(2, batch // 2)),
    "grid": lambda space, seed, batch: GridSearch(space),
    "controller": _controller,
}
"""Strategy name -> factory(space, seed, batch size)."""
