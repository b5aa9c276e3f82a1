"""``tandem export``: numpy, C and ONNX round trips against ``tandem.load_policy``, and the inputs refused.

Five tiny runs, trained once per module: discrete PPO on CartPole-v1 (tanh), continuous PPO on Pendulum-v1
with --normalize-obs and gSDE (gelu), SAC on Pendulum-v1 (relu), and from a random Pendulum dataset behaviour
cloning (tanh-Gaussian) and IQL (Gaussian, tanh); the first and the third with the settings of
runs in test_runners.py and test_runners_offpolicy.py, so the suite's compilation cache serves them. Each
format's action must equal the policy's to 1e-5 (the index exactly, for discrete) on 1000 observations,
sampled and from the environment.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tandem
from tandem.cli import main
from tandem.export import export
from tests.conftest import TINY

TOL = 1e-5
CC = shutil.which("cc") or shutil.which("gcc")
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]
SMALL = dict(actor_net="mlp:16,16", critic_net="mlp:16,16", eval_episodes=1, tensorboard=False)


def _train(tmp_path_factory, name, algo, env, **kw):
    return tandem.train(algo, env, run_dir=str(tmp_path_factory.mktemp("export") / name), **kw).run_dir


@pytest.fixture(scope="module")
def discrete(tmp_path_factory):
    """PPO on CartPole-v1: argmax of logits."""
    return _train(tmp_path_factory, "ppo", "ppo", "CartPole-v1", **{**TINY.ppo, "total_steps": 1024})


@pytest.fixture(scope="module")
def continuous(tmp_path_factory):
    """PPO on Pendulum-v1 with observation normalisation and gSDE: the Gaussian mean, clipped and rescaled."""
    return _train(tmp_path_factory, "ppoc", "ppo", "Pendulum-v1", total_steps=512, num_envs=4, num_steps=64,
                  num_minibatches=2, update_epochs=1, normalize_obs=True, use_sde=True, activation="gelu", **SMALL)


@pytest.fixture(scope="module")
def sac(tmp_path_factory):
    """SAC on Pendulum-v1: tanh of the mean half of the head, rescaled."""
    return _train(tmp_path_factory, "sac", "sac", "Pendulum-v1",
                  **{**TINY.off, "total_steps": 300, "learning_starts": 100, "buffer_size": 1000})


@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    pytest.importorskip("minari")
    from tandem.collect import collect

    out = tmp_path_factory.mktemp("export") / "random"
    collect("Pendulum-v1", "random", 2, out, seed=0)
    return str(out)


@pytest.fixture(scope="module")
def bc(tmp_path_factory, pendulum_data):
    """Behaviour cloning on Pendulum-v1 (tanh-Gaussian, an actor {"net": ...}): tanh of the mean half, rescaled."""
    return _train(tmp_path_factory, "bc", "bc", "Pendulum-v1", dataset=pendulum_data, total_steps=200,
                  actor_net="mlp:16,16", batch_size=32, eval_episodes=1, tensorboard=False)


@pytest.fixture(scope="module")
def iql(tmp_path_factory, pendulum_data):
    """IQL on Pendulum-v1 (a Gaussian with a state-independent log std): the mean, clipped and rescaled."""
    return _train(tmp_path_factory, "iql", "iql", "Pendulum-v1", dataset=pendulum_data, total_steps=200,
                  batch_size=32, **{**SMALL, "activation": "tanh"}, value_net="mlp:16,16")


@pytest.fixture(scope="module")
def td3bc(tmp_path_factory, pendulum_data):
    """TD3+BC on Pendulum-v1: tanh of the actor's output on observations normalised by the dataset's statistics."""
    return _train(tmp_path_factory, "td3bc", "td3bc", "Pendulum-v1", dataset=pendulum_data, total_steps=200,
                  batch_size=32, **SMALL)


KINDS = ["discrete", "continuous", "sac", "bc", "iql", "td3bc"]


def observations(env_id: str, n: int = 1000) -> np.ndarray:
    """n observations: n - 100 uniform in the observation space clipped to [-10, 10], then 100 from the env."""
    import gymnasium as gym

    env = gym.make(env_id)
    space = env.observation_space
    rng = np.random.default_rng(0)
    low, high = np.clip(space.low, -10, 10), np.clip(space.high, -10, 10)
    sampled = rng.uniform(low, high, size=(n - 100,) + space.shape)
    real, (obs, _) = [], env.reset(seed=0)
    env.action_space.seed(0)
    while len(real) < 100:
        real.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    return np.concatenate([sampled, np.asarray(real)]).astype(np.float32)


def reference(run_dir):
    """(policy, observations, its actions) of a run."""
    policy = tandem.load_policy(run_dir)
    obs = observations(policy.spec.id)
    return policy, obs, policy(obs)


def jax_logits(policy, obs):
    """The actor's outputs by flax itself (discrete PPO without normalisation: the logits)."""
    from tandem.envs.spec import obs_struct
    from tandem.nets.spec import NetworkSpec, network

    net = network(NetworkSpec.from_dict(policy._learner.network_spec["actor"]), obs_struct(policy.spec))
    return np.asarray(net.apply(policy._state.params["actor"]["net"], obs))


def check_actions(policy, got, want):
    if policy.spec.action_kind == "discrete":
        np.testing.assert_array_equal(np.asarray(got).astype(np.int64), want)
    else:
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
        low, high = np.asarray(policy.spec.action_low), np.asarray(policy.spec.action_high)
        assert np.all(got >= low) and np.all(got <= high)


NUMPY_CHECK = textwrap.dedent("""
    import importlib.util, sys
    import numpy as np
    spec = importlib.util.spec_from_file_location("exported_policy", sys.argv[1])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    obs = np.load(sys.argv[2])
    np.save(sys.argv[3], m.act(obs))
    np.save(sys.argv[4], m.forward(obs))
    one = m.act(obs[0])
    assert (isinstance(one, int) if m.ACTION_KIND == "discrete" else one.shape == (m.ACTION_DIM,)), one
    banned = [name for name in ("jax", "jaxlib", "flax", "tandem") if name in sys.modules]
    assert not banned, banned
""")


@pytest.mark.parametrize("kind", KINDS)
def test_numpy_module_matches_the_policy_without_jax(kind, request, tmp_path):
    run_dir = request.getfixturevalue(kind)
    policy, obs, want = reference(run_dir)
    out = tmp_path / "policy_np.py"
    result = export(run_dir, "numpy", out)
    assert result["files"] == [str(out)] and result["format"] == "numpy"
    np.save(tmp_path / "obs.npy", obs)
    subprocess.run([sys.executable, "-c", NUMPY_CHECK, str(out), str(tmp_path / "obs.npy"), str(tmp_path / "act.npy"),
                    str(tmp_path / "fwd.npy")], check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    check_actions(policy, np.load(tmp_path / "act.npy"), want)
    if kind == "discrete":
        np.testing.assert_allclose(np.load(tmp_path / "fwd.npy"), jax_logits(policy, obs), rtol=0, atol=TOL)


def _compile_shared(c_file, tmp_path):
    so = tmp_path / "libpolicy.so"
    subprocess.run([CC, *CFLAGS, "-shared", "-fPIC", "-o", str(so), str(c_file), "-lm"], check=True,
                   capture_output=True, text=True)
    return so


def _call_c(so, obs, size, fn="tandem_policy_act"):
    import ctypes

    lib = ctypes.CDLL(str(so))
    f = getattr(lib, fn)
    fp = ctypes.POINTER(ctypes.c_float)
    f.argtypes, f.restype = [fp, fp], None
    flat = np.ascontiguousarray(obs.reshape(len(obs), -1), np.float32)
    out = np.zeros((len(obs), size), np.float32)
    for i in range(len(obs)):
        f(flat[i].ctypes.data_as(fp), out[i].ctypes.data_as(fp))
    return out


@pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) found")
@pytest.mark.parametrize("kind", KINDS)
def test_c_source_compiles_and_matches_the_policy(kind, request, tmp_path):
    run_dir = request.getfixturevalue(kind)
    policy, obs, want = reference(run_dir)
    result = export(run_dir, "c", tmp_path / "policy")
    h, c = tmp_path / "policy.h", tmp_path / "policy.c"
    assert result["files"] == [str(h), str(c)]
    text = c.read_text()
    assert "malloc" not in text and [line for line in text.splitlines() if line.startswith("#include")] == [
        "#include <math.h>", '#include "policy.h"']
    subprocess.run([CC, *CFLAGS, "-c", str(c), "-o", str(tmp_path / "policy.o")], check=True)
    so = _compile_shared(c, tmp_path)
    discrete = policy.spec.action_kind == "discrete"
    got = _call_c(so, obs, 1 if discrete else policy.spec.action_dim)
    check_actions(policy, got[:, 0] if discrete else got, want)
    if discrete:
        np.testing.assert_allclose(_call_c(so, obs, policy.spec.num_actions, "tandem_policy_forward"),
                                   jax_logits(policy, obs), rtol=0, atol=TOL)
        # A C program of its own, linked with -lm, through the header's int variant.
        (tmp_path / "main.c").write_text(textwrap.dedent("""
            #include <stdio.h>
            #include "policy.h"
            int main(void) {
                float obs[TANDEM_POLICY_OBS_DIM] = {0};
                float action[TANDEM_POLICY_ACTION_SIZE];
                tandem_policy_act(obs, action);
                printf("%d %d\\n", tandem_policy_act_index(obs), (int)action[0]);
                return 0;
            }
        """))
        exe = tmp_path / "main"
        subprocess.run([CC, *CFLAGS, "-o", str(exe), str(tmp_path / "main.c"), str(c), "-lm"], check=True)
        index = int(policy(np.zeros(policy.spec.obs_shape, np.float32)))
        assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == [str(index)] * 2


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_model_matches_the_policy(kind, request, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    run_dir = request.getfixturevalue(kind)
    policy, obs, want = reference(run_dir)
    out = tmp_path / "policy.onnx"
    export(run_dir, "onnx", out)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["obs"] and model.graph.output[0].name == "action"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    action, net_output = session.run(["action", "net_output"], {"obs": obs.reshape(len(obs), -1)})
    check_actions(policy, action, want)
    if kind == "discrete":
        assert action.dtype == np.int64
        np.testing.assert_allclose(net_output, jax_logits(policy, obs), rtol=0, atol=TOL)


def _flax_counts(run_dir):
    """(scalars in the actor network's kernels and biases, in all of params["actor"]) of a run's checkpoint."""
    from tandem.nets.spec import num_params

    policy = tandem.load_policy(run_dir)
    actor = policy._state.params["actor"]
    net = actor["net"] if "net" in actor else actor
    return num_params(net), num_params(actor), policy


def test_weight_bytes_count_the_embedded_float32_numbers(discrete, continuous, sac, tmp_path, capsys):
    # Discrete PPO: exactly the actor network (no log std, no normalisation); through the CLI's JSON.
    assert main(["export", str(discrete), "--format", "numpy", "-o", str(tmp_path / "d.py")]) == 0
    report = json.loads(capsys.readouterr().out)
    net, actor, _ = _flax_counts(discrete)
    assert report["num_params"] == net == actor and report["weight_bytes"] == 4 * net
    assert report["files"] == [str(tmp_path / "d.py")] and report["normalize_obs"] is False
    # Continuous PPO: the network and the normalisation's mean and std (not gSDE's log std).
    r = export(continuous, "numpy", tmp_path / "c.py")
    net, actor, policy = _flax_counts(continuous)
    obs_dim = math.prod(policy.spec.obs_shape)
    assert r["normalize_obs"] and r["num_params"] == net + 2 * obs_dim and r["weight_bytes"] == 4 * r["num_params"]
    assert r["actor_params"] == actor > net
    # SAC: the head's mean half only (its log-std half never reaches the deterministic action).
    r = export(sac, "numpy", tmp_path / "s.py")
    net, actor, policy = _flax_counts(sac)
    width, dim = policy._state.params["actor"]["params"]["head"]["kernel"].shape[0], policy.spec.action_dim
    assert r["num_params"] == net - (width * dim + dim) and r["weight_bytes"] == 4 * r["num_params"]
    assert r["actor_params"] == actor == net


@pytest.mark.parametrize("actor_net, needle", [
    ("conv:16>mlp:64", "block 'conv' in --actor-net 'conv:16>mlp:64' cannot be exported to"),
    ("mlp:64,ln", "layer norm ('mlp:64,ln') in --actor-net 'mlp:64,ln' cannot be exported to"),
    ("board+step_count|mlp:64", "the inputs section 'board+step_count'"),
])
def test_what_a_format_cannot_express_exits_2_before_anything_is_written(actor_net, needle, tmp_path, capsys):
    """Checked from config.json alone: no checkpoint is needed to refuse."""
    from tandem.api import resolve_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(resolve_config("ppo", "CartPole-v1", actor_net=actor_net).to_dict()))
    for fmt, out in (("numpy", "out/p.py"), ("c", "out/p"), ("onnx", "out/p.onnx")):
        assert main(["export", str(run), "--format", fmt, "-o", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert needle in err and f"exported to {fmt}; allowed:" in err
    assert not (tmp_path / "out").exists()


def test_structured_observations_and_action_masks_are_refused():
    from tandem.envs.spec import EnvSpec
    from tandem.errors import TandemInputError
    from tandem.export.extract import check_env_spec

    fields = (("action_mask", (4,), "bool"), ("board", (4, 4), "int32"))
    masked = EnvSpec("x", "jumanji", (), "discrete", num_actions=4, obs_fields=fields)
    with pytest.raises(TandemInputError, match="the action_mask of 'x'.*cannot be exported to c"):
        check_env_spec(masked, "c")
    with pytest.raises(TandemInputError, match=r"structured \(dict\) observation"):
        check_env_spec(EnvSpec("y", "gymnasium", (), "discrete", num_actions=4, obs_fields=fields[1:]), "numpy")


def test_members_seed_index_and_damaged_runs(discrete, tmp_path, capsys):
    out = str(tmp_path / "out" / "p.py")
    assert main(["export", str(discrete), "--member", "3", "--format", "numpy", "-o", out]) == 2
    err = capsys.readouterr().err
    assert "--member 3" in err and "has no members" in err
    search = tmp_path / "search"
    for k in (0, 2):
        shutil.copytree(discrete, search / "members" / str(k))
    assert main(["export", str(search), "--member", "3", "--format", "numpy", "-o", out]) == 2
    assert "members available: 0, 2" in capsys.readouterr().err
    assert main(["export", str(discrete), "--seed-index", "1", "--format", "numpy", "-o", out]) == 2
    assert "--seed-index 1 is out of range: the run has 1 seed(s)" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "--format", "numpy", "-o", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(discrete), "--format", "numpy", "-o", str(tmp_path / "p.txt")]) == 2
    assert main(["export", str(discrete), "--format", "tflite", "-o", out]) == 2
    damaged = search / "members" / "2"
    for state in (damaged / "checkpoints").glob("ckpt_*/state.msgpack"):
        state.write_bytes(state.read_bytes()[:-7])
    assert main(["export", str(damaged), "--format", "c", "-o", str(tmp_path / "out" / "p")]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    # A structured observation or an action mask, found in the checkpoint's env spec before its weights are read.
    masked = search / "members" / "0"
    ckpt = sorted((masked / "checkpoints").glob("ckpt_*"))[-1]
    manifest = json.loads((ckpt / "manifest.json").read_text())
    (ckpt / "manifest.json").write_text(json.dumps({**manifest, "env_spec": {
        **manifest["env_spec"], "obs_shape": [], "obs_fields": [["action_mask", [2], "bool"], ["x", [4], "float32"]]}}))
    assert main(["export", str(search), "--member", "0", "--format", "onnx", "-o", str(tmp_path / "out" / "p.onnx")
                 ]) == 2
    err = capsys.readouterr().err
    assert "the action_mask of 'CartPole-v1' (fields action_mask, x) cannot be exported to onnx" in err
    assert not (tmp_path / "out").exists()
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    r = export(search, "numpy", out, member=0)
    assert r["run_dir"] == str(search / "members" / "0") and r["member"] == 0 and r["files"] == [out]


def test_onnx_missing_says_how_to_install(discrete, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert main(["export", str(discrete), "--format", "onnx", "-o", str(tmp_path / "p.onnx")]) == 2
    assert 'pip install -e ".[export]"' in capsys.readouterr().err
    assert not (tmp_path / "p.onnx").exists()


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "silu", "elu"])
def test_every_activation_and_unbounded_action_dimensions(activation, tmp_path):
    """Without training: a random actor through the extraction and every format, against flax's apply and
    envs/spec.py's rescale_action (one unbounded action dimension, one bounded)."""
    import jax

    from tandem.envs.spec import EnvSpec, rescale_action
    from tandem.export import c_fmt, numpy_fmt, onnx_fmt
    from tandem.export.extract import PolicyGraph, mlp_layers
    from tandem.nets.spec import NetworkSpec, network

    spec = NetworkSpec.from_text("mlp:8>mlp:5,6", activation, 2, 1.0)
    net = network(spec, (2, 3))
    params = net.init(jax.random.PRNGKey(1), np.zeros((1, 2, 3), np.float32))
    obs = (np.random.default_rng(2).normal(size=(200, 2, 3)) * 3).astype(np.float32)
    mean = np.asarray(net.apply(params, obs))
    env = EnvSpec("t", "gymnasium", (2, 3), "continuous", action_dim=2, action_low=(-math.inf, -0.5),
                  action_high=(math.inf, 2.0))
    want = rescale_action(env, np.tanh(mean))
    graph = PolicyGraph((2, 3), None, None, mlp_layers(spec, params), "tanh", "continuous", 0, 2,
                        np.array([-np.inf, -0.5]), np.array([np.inf, 2.0]), 0, {"algo": "test"})
    module = tmp_path / "p.py"
    module.write_bytes(numpy_fmt.render(graph, (module,))[module])
    ns = {}
    exec(compile(module.read_text(), str(module), "exec"), ns)
    np.testing.assert_allclose(ns["forward"](obs), mean, rtol=0, atol=TOL)
    np.testing.assert_allclose(ns["act"](obs), want, rtol=0, atol=TOL)
    if CC is not None:
        h, c = tmp_path / "p.h", tmp_path / "p.c"
        for path, data in c_fmt.render(graph, (h, c)).items():
            path.write_bytes(data)
        so = _compile_shared(c, tmp_path)
        np.testing.assert_allclose(_call_c(so, obs, 2), want, rtol=0, atol=TOL)
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx_fmt.model(graph).SerializeToString()
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    action, net_output = session.run(None, {"obs": obs.reshape(200, -1)})
    np.testing.assert_allclose(net_output, mean, rtol=0, atol=TOL)
    np.testing.assert_allclose(action, want, rtol=0, atol=TOL)
