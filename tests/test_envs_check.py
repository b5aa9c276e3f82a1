"""`tandem check-env ID` through the real CLI: broken envs exit 1 naming expected and actual values."""

from __future__ import annotations

import pytest

from tandem.cli import main
from tandem.envs.check import check_env, format_report

ENVS = "tests.envs_for_tests:"


def run_check(capsys, env_id: str, *extra: str) -> tuple[int, str]:
    code = main(["check-env", env_id, *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# (class, fragments the report must contain: the expected value and the actual one)
BROKEN = [
    ("WrongShapeEnv", ["observation shape", "expected (3,)", "got (4,)"]),
    ("WrongDtypeEnv", ["observation dtype", "expected float32", "got float64"]),
    ("OutOfBoundsEnv", ["outside the Box bounds", "observation[1] <= 1.0", "got 5.0"]),
    ("NanObsEnv", ["observation[1]", "expected a finite number", "got nan", "first at step 3"]),
    ("FourTupleEnv", ["step() must return 5 values", "got 4 values"]),
    ("OldResetEnv", ["reset() must return a tuple (obs, info)", "got a single numpy.ndarray"]),
    ("NanRewardEnv", ["reward", "expected a finite number", "got nan"]),
    ("ArrayRewardEnv", ["reward", "expected a real scalar", "numpy.ndarray with shape (1,)"]),
    ("IntTerminatedEnv", ["terminated", "expected bool", "got int"]),
    ("ListInfoEnv", ["info", "expected dict", "got list"]),
    ("DictObsEnv", ["observation field 'room' space Discrete(3) is not supported", "observations: Box, or Dict of Box"]),
    ("RaisingStepEnv", ["step() raised RuntimeError: simulator exploded", "at step 5"]),
]


@pytest.mark.parametrize("name,fragments", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_env_exits_1_and_names_expected_and_actual(capsys, name, fragments):
    code, out = run_check(capsys, ENVS + name)
    assert code == 1, out
    assert f"{ENVS}{name}: 1 problem" in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"


def test_repeated_problem_is_reported_once_with_first_step():
    problems = check_env(ENVS + "WrongShapeEnv", steps=50)
    assert len(problems) == 1
    # 50 steps plus the first reset and 5 more (10-step episodes, none after the last step).
    assert "first at reset(seed=0), 55 times in all" in problems[0]


def test_correct_entry_point_env_passes(capsys):
    code, out = run_check(capsys, ENVS + "GoodEnv", "--steps", "30")
    assert code == 0, out
    assert "OK (30 steps, obs (3,) float32, actions Discrete(2))" in out


def test_cartpole_passes(capsys):
    code, out = run_check(capsys, "CartPole-v1")
    assert code == 0, out
    assert out.strip() == "CartPole-v1: OK (200 steps, obs (4,) float32, actions Discrete(2))"


def test_gymnax_cartpole_passes(capsys):
    code, out = run_check(capsys, "gymnax:CartPole-v1")
    assert code == 0, out
    assert "gymnax:CartPole-v1: OK (200 steps, obs (4,) float32, actions Discrete(2))" in out


@pytest.mark.parametrize("env_id", ["NoSuchEnv-v0", "gymnax:NoSuchEnv", ENVS + "NoSuchEnv", "no_such_pkg.mod:Env"])
def test_unknown_id_exits_2(capsys, env_id):
    code, out = run_check(capsys, env_id)
    assert code == 2, out
    assert env_id in out


def test_format_report_bullets_each_problem():
    report = format_report("X-v0", ["first thing", "second thing"])
    assert report.splitlines() == ["X-v0: 2 problems", "  - first thing", "  - second thing"]
    assert format_report("X-v0", []) == "X-v0: OK"
