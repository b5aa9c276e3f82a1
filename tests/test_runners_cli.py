"""The CLI contract: exit codes, messages that name the problem, nothing written on bad input."""

import json
import subprocess
import sys

import pytest

from tandem.cli import main

TANDEM = [sys.executable, "-m", "tandem"]


@pytest.mark.parametrize("args, needle", [
    (["train", "ppo", "--gamma", "1.5"], "--gamma 1.5 is out of range: allowed 0 <= gamma < 1"),
    (["train", "ppo", "--total-steps", "-5"], "--total-steps -5 is out of range"),
    (["train", "ppo", "--num-minibatches", "7"], "--num-minibatches 7 does not divide the batch"),
    (["train", "sarsa"], "unknown algorithm 'sarsa'; allowed: ppo, a2c"),
    (["train", "ppo", "--env", "NoSuchEnv-v0"], "'NoSuchEnv-v0' is not a known environment"),
    (["train", "ppo", "--env", "gymnax:Nope"], "gymnax has no environment 'Nope'"),
    (["train", "ppo", "--env", "no_such_pkg.mod:Env"], "cannot import module 'no_such_pkg.mod'"),
    (["train", "a2c", "--num-seeds", "0"], "--num-seeds 0 is out of range"),
    (["train", "ppo", "--lr", "-1"], "--lr -1.0 is out of range"),
    (["train", "ppo", "--gae-lambda", "2"], "--gae-lambda 2.0 is out of range"),
    (["eval", "/nonexistent/run"], "run directory '/nonexistent/run' does not exist"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["train", "sac", "--env", "CartPole-v1"], "has a discrete action space; DDPG, TD3 and SAC need a continuous"),
    (["train", "td3", "--utd", "0.3"], "--utd 0.3 x --train-freq 1 x --num-envs 1 = 0.3 gradient steps"),
    (["train", "ddpg", "--tau", "0"], "--tau 0.0 is out of range: allowed 0 < tau <= 1"),
    (["train", "sac", "--buffer-size", "1000000000"], "needs about"),
        (["train", "sac", "--buffer-size", "100000000000"], "--buffer-size 100000000000 is out of range"),
    (["train", "sac", "--alpha", "-1"], "--alpha -1.0 is out of range"),
    (["train", "td3", "--noise-type", "pink"], "--noise-type"),
])
def test_bad_input_exits_2_naming_the_problem(tmp_path, capsys, args, needle):
    run_dir = tmp_path / "run"
    extra = ["--run-dir", str(run_dir)] if args[0] == "train" else []
    assert main(args + extra) == 2
    assert needle in capsys.readouterr().err
    assert not run_dir.exists()


def test_unknown_flag_and_wrong_type_exit_2(tmp_path, capsys):
    assert main(["train", "ppo", "--bogus-flag", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--bogus-flag" in capsys.readouterr().err
    assert main(["train", "ppo", "--gamma", "abc", "--run-dir", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_existing_run_dir_is_not_overwritten(tmp_path, capsys):
    d = tmp_path / "run"
    d.mkdir()
    (d / "keep.txt").write_text("x")
    assert main(["train", "ppo", "--run-dir", str(d)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in d.iterdir()) == ["keep.txt"]


def test_help_documents_flags(capsys):
    assert main(["train", "ppo", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--env", "--total-steps", "--seed", "--num-seeds", "--target-return", "--run-dir", "--resume",
                 "--gamma", "--lr", "--clip-coef", "--ent-coef", "--normalize-obs", "--quiet"):
        assert flag in out, flag


def test_train_eval_plot_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    cmd = TANDEM + ["train", "ppo", "--env", "gymnax:CartPole-v1", "--total-steps", "1024", "--num-envs", "4",
                    "--num-steps", "64", "--num-minibatches", "2", "--update-epochs", "1", "--eval-episodes", "2",
                    "--run-dir", str(run_dir), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert str(run_dir) in proc.stdout
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == 1024
    assert any((run_dir / "tb").iterdir())
    ev = subprocess.run(TANDEM + ["eval", str(run_dir), "--episodes", "3"], capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    out = json.loads(ev.stdout)
    assert set(out) >= {"mean", "std"} and len(out["returns"][0]) == 3
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 0


def test_resume_rejects_changed_flags(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert main(["train", "ppo", "--resume", str(tmp_path / "r"), "--lr", "0.1"]) == 2
    assert "cannot be changed on resume" in capsys.readouterr().err


def test_gsde_on_discrete_actions_exits_2_before_anything_is_written(tmp_path, capsys):
    from tandem.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "ppo", "--env", "CartPole-v1", "--use-sde", "--run-dir", str(run_dir), "--quiet"])
    assert code == 2 and not run_dir.exists()
    assert "--use-sde: gSDE explores continuous actions, and CartPole-v1 has discrete actions" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["sac", "--env", "Pendulum-v1", "--critic-net", "lstm:32"],
     "--critic-net 'lstm:32': block 'lstm' is recurrent, and this learner does not carry a recurrent state; allowed: "
     "a recurrent block with ppo, a2c, a3c or impala"),
    (["td3", "--env", "Pendulum-v1", "--actor-net", "mlp:64>gru:16"], "block 'gru' is recurrent"),
    (["ppo", "--env", "CartPole-v1", "--actor-net", "lstm:16", "--num-envs", "6", "--num-minibatches", "4"],
     "--num-minibatches 4: a recurrent network learns from whole sequences, so each minibatch is a set of envs and "
     "--num-minibatches must divide --num-envs 6"),
    (["ppo", "--env", "CartPole-v1", "--actor-net", "lstm:0"], "'0' is not a positive integer (token 'lstm:0')"),
])
def test_recurrent_blocks_where_they_cannot_run_exit_2_before_anything_is_written(tmp_path, capsys, argv, needle):
    from tandem.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", *argv, "--run-dir", str(run_dir), "--quiet"])
    assert code == 2 and not run_dir.exists()
    assert needle in capsys.readouterr().err
