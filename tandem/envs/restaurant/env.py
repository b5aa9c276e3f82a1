"""The restaurant dialogue environments: ``tandem:Restaurant-v0`` (master actions, the belief tracker's full
state) and ``tandem:RestaurantSummary-v0`` (summary actions and a summary state, the first setting of Fatemi et
al. 2016), and the handcrafted policy demonstrations are collected with.

A step is one system turn: the agent's act, the simulated user's answer (user.User), what recognition makes of
it (user.recognise) and the belief tracker's update (tracker.Tracker). Reward: -1 per turn, and +20 when the
dialogue ends successfully: the last offered venue matches the user's (final) constraints and every request
about it was answered. The dialogue ends (terminated) when the user or the system says bye, and is truncated
at ``max_turns``. ``info["success"]`` is given at the end of every dialogue.

Master actions (41): request(slot) x3, confirm(slot=value) for every value and ``dontcare`` of every informable
slot (33), offer (the first venue matching the tracker's most likely values, another one after the user asked
for alternatives; "no such venue" when none matches), inform(requestable) x3 about the offered venue, bye.

Summary actions (9): request(slot) x3, confirm(slot) x3 (its most likely value), offer, inform (the requestable
the user most likely asked for), bye; each maps to one master action (:func:`summary_to_master`).

Observation (master, 47 numbers in [0, 1]): the three slot distributions (6 + 23 + 4), the three request
probabilities, this turn's affirm/negate/reqalts/bye confidences, the number of venues matching the most likely
values (one-hot: 0, 1, 2-4, 5 or more), whether a venue was offered and whether it matches the most likely
values, and the turn over ``max_turns``. Summary (20): per slot the two largest probabilities instead of the
distribution; the rest the same (:func:`summarise`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from tandem.envs.restaurant.domain import database, informable, matches, matching, requestable
from tandem.envs.restaurant.tracker import FLAGS, Tracker, slot_values
from tandem.envs.restaurant.user import User, recognise

SLOTS = tuple(informable())
REQUESTS = requestable()
SUCCESS_REWARD, TURN_PENALTY = 20.0, -1.0


def master_actions() -> tuple[tuple, ...]:
    """The master actions as ``(kind, slot, value)``: request, confirm(slot=value), offer, inform(slot), bye."""
    acts = [("request", s, None) for s in SLOTS]
    acts += [("confirm", s, v) for s in SLOTS for v in slot_values(s)]
    acts += [("offer", None, None)] + [("inform", r, None) for r in REQUESTS] + [("bye", None, None)]
    return tuple(acts)


SUMMARY_ACTIONS = tuple([("request", s) for s in SLOTS] + [("confirm", s) for s in SLOTS]
                        + [("offer",), ("inform",), ("bye",)])

# -- the observation layout ----------------------------------------------------------------------
_SIZES = [len(slot_values(s)) for s in SLOTS]
_SLOT_AT = dict(zip(SLOTS, np.cumsum([0] + _SIZES[:-1]).tolist()))
_REQ_AT = sum(_SIZES)
_FLAG_AT = _REQ_AT + len(REQUESTS)
_DB_AT = _FLAG_AT + len(FLAGS)
_DB_BUCKETS = (0, 1, 2, 5)   # lower bounds: 0, 1, 2-4, 5+
OBS_DIM = _DB_AT + len(_DB_BUCKETS) + 3
SUMMARY_DIM = 2 * len(SLOTS) + (OBS_DIM - _REQ_AT)


def slot_belief(obs: np.ndarray, slot: str) -> np.ndarray:
    """A slot's distribution in a master observation."""
    return obs[_SLOT_AT[slot]: _SLOT_AT[slot] + len(slot_values(slot))]


def summarise(obs: np.ndarray) -> np.ndarray:
    """The summary state of a master observation: each slot's two largest probabilities, then the rest."""
    tops = [np.sort(slot_belief(obs, s))[::-1][:2] for s in SLOTS]
    return np.concatenate(tops + [obs[_REQ_AT:]]).astype(np.float32)


def summary_to_master(action: int, obs: np.ndarray) -> int:
    """The master action a summary action stands for, given the master observation it is taken in."""
    kind, *rest = SUMMARY_ACTIONS[action]
    table = master_actions()
    if kind == "confirm":
        slot = rest[0]
        value = slot_values(slot)[int(np.argmax(slot_belief(obs, slot)))]
        return table.index(("confirm", slot, value))
    if kind == "inform":
        return table.index(("inform", REQUESTS[int(np.argmax(obs[_REQ_AT:_FLAG_AT]))], None))
    return table.index((kind, rest[0] if rest else None, None))


# -- the handcrafted policy ------------------------------------------------------------------------
REQUEST_BELOW, CONFIRM_BELOW, ANSWER_ABOVE = 0.5, 0.8, 0.3
"""The handcrafted policy requests a slot whose most likely value has probability under 0.5, confirms one
under 0.8, and answers a request whose probability is over 0.3."""


def handcrafted_summary(summary: np.ndarray) -> int:
    """The handcrafted policy on the summary state: fill the slots (food, area, price range; request below
    0.5, confirm below 0.8), offer a venue when none matching the beliefs is offered (or the user asked for
    alternatives), answer the user's requests (over 0.3), then bye."""
    flags = dict(zip(FLAGS, summary[2 * len(SLOTS) + len(REQUESTS):]))
    offered, consistent = summary[-3], summary[-2]
    if flags["reqalts"] > 0.5:
        return SUMMARY_ACTIONS.index(("offer",))
    for slot in ("food", "area", "pricerange"):
        top = summary[2 * SLOTS.index(slot)]
        if top < REQUEST_BELOW:
            return SUMMARY_ACTIONS.index(("request", slot))
        if top < CONFIRM_BELOW:
            return SUMMARY_ACTIONS.index(("confirm", slot))
    if offered < 0.5 or consistent < 0.5:
        return SUMMARY_ACTIONS.index(("offer",))
    if summary[2 * len(SLOTS): 2 * len(SLOTS) + len(REQUESTS)].max() > ANSWER_ABOVE:
        return SUMMARY_ACTIONS.index(("inform",))
    return SUMMARY_ACTIONS.index(("bye",))


def handcrafted_master(obs: np.ndarray) -> int:
    """The handcrafted policy on the master observation and actions (the summary policy, mapped)."""
    return summary_to_master(handcrafted_summary(summarise(obs)), obs)


class RestaurantEnv(gym.Env):
    """A restaurant-information dialogue with a simulated user (see the module docstring).

    error_rate: probability that recognition gets a user act wrong; max_turns: the turn limit (also given to
    gymnasium's TimeLimit at registration); db_seed: the venue database; p_change: probability that the user's
    first constraints match no venue and the goal changes; summary: summary state and actions."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, error_rate: float = 0.15, max_turns: int = 30, db_seed: int = 0, p_change: float = 0.2,
                 summary: bool = False, render_mode: str | None = None):
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate={error_rate}: expected a probability in [0, 1]")
        if max_turns < 1:
            raise ValueError(f"max_turns={max_turns}: expected at least 1")
        self.error_rate, self.max_turns, self.p_change, self.summary = float(error_rate), int(max_turns), \
            float(p_change), bool(summary)
        self.db = database(int(db_seed))
        self.render_mode = render_mode
        dim = SUMMARY_DIM if summary else OBS_DIM
        self.observation_space = gym.spaces.Box(0.0, 1.0, (dim,), np.float32)
        self.action_space = gym.spaces.Discrete(len(SUMMARY_ACTIONS) if summary else len(master_actions()))
        self._log: list[str] = []

    # -- the Gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        """A new dialogue: a new user goal, the tracker empty, the user's first turn observed."""
        super().reset(seed=seed)
        self.user = User(self.np_random, self.db, self.p_change)
        self.tracker, self.turn, self.offered, self._offers = Tracker(), 0, None, []
        heard = recognise(self.np_random, self.user.start(), self.error_rate)
        self.tracker.update([], heard)
        self._log = [f"user: {heard}"]
        self._obs = self._observe()
        return self._out(), {}

    def step(self, action):
        """One system turn: the act, the user's answer as recognised, the tracker's update."""
        master = summary_to_master(int(action), self._obs) if self.summary else int(action)
        acts = [self._system_act(master)]
        self.turn += 1
        answer = self.user.respond(acts)
        heard = recognise(self.np_random, answer, self.error_rate)
        self.tracker.update(acts, heard)
        self._log += [f"system: {acts}", f"user: {heard}"]
        self._obs = self._observe()
        terminated = self.user.system_bye or self.user.hung_up
        success = terminated and self.user.satisfied()
        reward = TURN_PENALTY + (SUCCESS_REWARD if success else 0.0)
        info = {"success": bool(success)} if terminated or self.turn >= self.max_turns else {}
        return self._out(), reward, terminated, False, info

    def render(self):
        """The dialogue so far, one act list per line (render mode ``ansi``)."""
        return "\n".join(self._log)

    # -- the system's side -----------------------------------------------------------------------
    def _system_act(self, master: int) -> tuple:
        kind, slot, value = master_actions()[master]
        if kind == "offer":
            found = matching(self.db, self.tracker.constraints())
            if self.tracker.flags[FLAGS.index("reqalts")] > 0.5:
                found = [v for v in found if v not in self._offers] or found
            self.offered = found[0] if found else None
            if self.offered is not None:
                self._offers.append(self.offered)
            return ("offer", None, self.offered)
        if kind == "inform":
            return ("inform", slot, self.offered)
        return (kind, slot, value)

    def _observe(self) -> np.ndarray:
        t = self.tracker
        found = len(matching(self.db, t.constraints()))
        bucket = np.zeros(len(_DB_BUCKETS))
        bucket[max(k for k, lo in enumerate(_DB_BUCKETS) if found >= lo)] = 1.0
        offered = self.offered is not None
        consistent = offered and matches(self.db[self.offered], t.constraints())
        return np.concatenate([t.slots[s] for s in SLOTS] + [
            t.requests, t.flags, bucket, [float(offered), float(consistent), min(1.0, self.turn / self.max_turns)]
        ]).clip(0.0, 1.0).astype(np.float32)

    def _out(self) -> np.ndarray:
        return summarise(self._obs) if self.summary else self._obs
