"""The restaurant dialogue domain (issue 13, item 1): database, goals, the agenda-based user, the error model,
the belief tracker against hand-worked turns, the environments and the handcrafted policy."""

from __future__ import annotations

import numpy as np
import pytest

from tandem.cli import main
from tandem.envs import own
from tandem.envs.restaurant import domain
from tandem.envs.restaurant.domain import DONTCARE, Goal, database, matching, sample_goal
from tandem.envs.restaurant.env import (OBS_DIM, SUMMARY_ACTIONS, SUMMARY_DIM, handcrafted_master, master_actions,
                                        summarise, summary_to_master)
from tandem.envs.restaurant.tracker import Tracker, slot_values
from tandem.envs.restaurant.user import User, recognise
from tandem.errors import TandemInputError


def test_ontology_has_dstc2_value_sets_and_the_database_is_deterministic():
    slots = domain.informable()
    assert list(slots) == ["area", "food", "pricerange"]
    assert set(slots["area"]) == {"centre", "north", "south", "east", "west"}
    assert set(slots["pricerange"]) == {"cheap", "moderate", "expensive"}
    assert len(slots["food"]) == 22 and len(set(slots["food"])) == 22
    db = database(0)
    assert len(db) == 110 and db == database(0)
    assert [v.values for v in db] != [v.values for v in database(1)]
    assert all(v.value("food") in slots["food"] and dict(v.facts).keys() == set(domain.requestable()) for v in db)


def test_goals_are_satisfiable_and_change_only_from_an_empty_match():
    rng, db = np.random.default_rng(0), database(0)
    goals = [sample_goal(rng, db, p_change=0.5) for _ in range(2000)]
    assert all(matching(db, g.final) for g in goals)
    changed = [g for g in goals if g.changes]
    assert 0.3 * len(goals) < len(changed) < 0.5 * len(goals)   # 0.5, less the goals with no empty value
    for g in changed:
        assert not matching(db, g.constraints)
        assert sum(g.constraints[s] != g.final[s] for s in g.final) == 1
    assert any(DONTCARE in g.final.values() for g in goals)


def _user(seed=3, **goal):
    """A user whose goal is set by hand (its agenda rebuilt for it)."""
    user = User(np.random.default_rng(seed), database(0), p_change=0.0, p_reqalts=0.0)
    constraints, requests = goal["constraints"], goal.get("requests", ())
    user.goal = Goal(dict(constraints), dict(goal.get("final", constraints)), requests)
    user.constraints = dict(constraints)
    informs = [("inform", s, v) for s, v in constraints.items() if v != DONTCARE]
    user.agenda = [("bye", None, None)] + [("request", r, None) for r in reversed(requests)] + informs
    return user


def test_the_agenda_starts_with_the_goal_and_answers_each_system_act():
    db = database(0)
    venue = db[0]
    goal = {s: venue.value(s) for s in domain.informable()}
    user = _user(constraints={**goal, "pricerange": DONTCARE}, requests=("phone",))
    assert [a[0] for a in user.agenda] == ["bye", "request", "inform", "inform"]
    assert user.respond([("request", "pricerange", None)])[0] == ("inform", "pricerange", DONTCARE)
    assert user.respond([("confirm", "area", goal["area"])])[0][0] == "affirm"
    wrong = next(v for v in domain.informable()["food"] if v != goal["food"])
    assert user.respond([("confirm", "food", wrong)]) == [("negate", None, None), ("inform", "food", goal["food"])]
    other = next(i for i, v in enumerate(db) if v.value("area") != goal["area"])
    assert user.respond([("offer", None, other)])[:2] == [("negate", None, None), ("inform", "area", goal["area"])]
    match = matching(db, user.constraints)[0]
    assert user.respond([("offer", None, match)]) == [("request", "phone", None)]   # pending informs dropped
    assert not user.satisfied() and not user.hung_up
    assert user.respond([("inform", "addr", match)]) == [("request", "phone", None)]  # asks again, then bye
    assert user.respond([("inform", "phone", match)]) == [("bye", None, None)]
    assert user.satisfied() and user.hung_up


def test_the_goal_changes_when_the_system_says_nothing_matches():
    rng, db = np.random.default_rng(1), database(0)
    goal = next(g for g in (sample_goal(rng, db, p_change=1.0) for _ in range(100)) if g.changes)
    user = _user(constraints=goal.constraints, final=goal.final)
    slot = next(s for s in goal.final if goal.final[s] != goal.constraints[s])
    user.agenda = [("bye", None, None)]   # the constraints were all said
    assert user.respond([("offer", None, None)]) == [("inform", slot, goal.final[slot])]
    assert user.constraints == goal.final
    user.agenda = [("bye", None, None)]
    said = user.respond([("offer", None, None)])   # the final goal matches: the user says it again
    assert {a[1] for a in said} <= {s for s, v in goal.final.items() if v != DONTCARE} and said[0][0] == "inform"


def test_recognition_errors_follow_the_rate():
    rng, acts = np.random.default_rng(0), [("inform", "food", "thai"), ("request", "phone", None), ("affirm", None, None)]
    exact = recognise(rng, acts, 0.0)
    assert [h[:3] for h in exact] == acts and all(0 < h[3] < 1 for h in exact)
    wrong = recognise(rng, acts, 1.0)
    assert wrong[0][2] != "thai" and wrong[1][1] != "phone" and wrong[2][0] == "negate"
    confs = np.array([[h[3] for h in recognise(rng, acts[:1], e)] for e in (0.0, 1.0) for _ in range(400)])
    assert confs[:400].mean() > 0.75 > 0.45 > confs[400:].mean()   # Beta(6, 1.5) and Beta(2, 3): means 0.8, 0.4


def test_belief_tracker_on_hand_worked_turns():
    t = Tracker()
    food = lambda v: t.slots["food"][slot_values("food").index(v)]   # noqa: E731
    t.update([], [("inform", "food", "chinese", 0.8)])
    assert food("chinese") == pytest.approx(0.8)
    t.update([("request", "food", None)], [("inform", "food", "indian", 0.6)])
    assert (food("chinese"), food("indian")) == pytest.approx((0.32, 0.6))   # 0.8 x (1 - 0.6)
    t.update([("confirm", "food", "indian")], [("affirm", None, None, 0.9)])
    assert (food("chinese"), food("indian")) == pytest.approx((0.032, 0.96))  # (1 - 0.9) x b + 0.9
    assert t.flags.tolist() == pytest.approx([0.9, 0, 0, 0])
    t.update([("confirm", "food", "indian")], [("negate", None, None, 0.5)])
    assert food("indian") == pytest.approx(0.48) and t.top("food") == ("indian", pytest.approx(0.48))
    t.update([], [("inform", "area", "north", 0.7), ("inform", "area", "south", 0.6)])   # scaled to sum to 1
    assert t.slots["area"][:3].tolist() == pytest.approx([0, 0.7 / 1.3, 0.6 / 1.3])
    t.update([], [("request", "phone", None, 0.6)])
    t.update([], [("request", "phone", None, 0.5)])
    assert t.requests.tolist() == pytest.approx([0, 0.8, 0])   # 1 - 0.4 x 0.5
    t.update([("inform", "phone", 4)], [])
    assert t.requests.tolist() == [0, 0, 0] and t.constraints() == {"area": "north", "food": "indian"}


def _dialogue(env, policy, seed):
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [obs], [], []
    while True:
        actions.append(policy(obs))
        obs, r, term, trunc, info = env.step(actions[-1])
        observations.append(obs)
        rewards.append(r)
        if term or trunc:
            return observations, actions, rewards, term, trunc, info


def test_handcrafted_policy_succeeds_at_error_rate_zero_in_both_spaces():
    master = own.make("tandem:Restaurant-v0:error_rate=0.0")
    summary = own.make("tandem:RestaurantSummary-v0:error_rate=0.0")
    assert master.observation_space.shape == (OBS_DIM,) and master.action_space.n == len(master_actions()) == 41
    assert summary.observation_space.shape == (SUMMARY_DIM,) and summary.action_space.n == len(SUMMARY_ACTIONS) == 9
    policy_s = own.handcrafted("tandem:RestaurantSummary-v0")
    successes = 0
    for seed in range(300):
        obs_m, act_m, rew, term, _, info = _dialogue(master, handcrafted_master, seed)
        obs_s, act_s, rew_s, *_ = _dialogue(summary, policy_s, seed)
        assert rew == rew_s and [summary_to_master(a, o) for a, o in zip(act_s, obs_m)] == act_m
        assert all(np.array_equal(summarise(o), s) for o, s in zip(obs_m, obs_s))
        assert rew[:-1] == [-1.0] * (len(rew) - 1) and rew[-1] == (19.0 if info["success"] else -1.0)
        successes += info["success"]
    assert successes >= 0.95 * 300


def test_errors_make_dialogues_longer_and_the_turn_limit_truncates():
    def rate(error_rate):
        env = own.make(f"tandem:Restaurant-v0:error_rate={error_rate}")
        out = [_dialogue(env, handcrafted_master, s) for s in range(200)]
        return np.mean([o[5]["success"] for o in out]), np.mean([len(o[1]) for o in out])
    (s0, n0), (s3, n3) = rate(0.0), rate(0.3)
    assert s3 < s0 and n3 > n0
    env = own.make("tandem:Restaurant-v0:max_turns=7")
    request_area = master_actions().index(("request", "area", None))
    *_, rewards, term, trunc, info = _dialogue(env, lambda o: request_area, 0)
    assert rewards == [-1.0] * 7 and trunc and not term and info == {"success": False}


def test_a_dialogue_replays_exactly_from_its_seed_and_actions():
    env = own.make("tandem:Restaurant-v0:error_rate=0.3")
    obs, actions, *_ = _dialogue(env, handcrafted_master, 11)
    again = [env.reset(seed=11)[0]] + [env.step(a)[0] for a in actions]
    assert all(np.array_equal(a, b) for a, b in zip(obs, again))


@pytest.mark.parametrize("env_id, names", [
    ("tandem:Nope-v0", "Restaurant-v0"), ("tandem:Restaurant-v0:noise=0.1", "error_rate"),
    ("tandem:Restaurant-v0:error_rate=high", "float"), ("tandem:Restaurant-v0:error_rate=1.5", "error_rate"),
    ("tandem:Restaurant-v0:max_turns=0", "max_turns")])
def test_a_bad_tandem_env_id_names_the_problem(env_id, names):
    with pytest.raises(TandemInputError, match=names):
        own.make(env_id)


def test_cli_rejects_a_bad_option_before_writing_anything(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(["train", "ppo", "--env", "tandem:Restaurant-v0:error=0.1", "--run-dir", str(run_dir)])
    assert code == 2 and not run_dir.exists()
    assert "error_rate" in capsys.readouterr().err
