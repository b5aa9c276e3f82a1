"""Config validation, property-based: bad input never gets as far as a compilation or a run directory.

Unknown keys, wrong types, out-of-range values and incompatible combinations are refused by
``tandem.api.resolve_config`` / ``tandem.train`` with a ``TandemInputError`` and by ``tandem train`` with
exit code 2, each naming the field (as its ``--flag``) and what is allowed (DESIGN.md, Contracts).
In-range values drawn the same way must resolve, so the validation cannot pass by refusing everything.

The ranges below are this file's own statement of the contract (the field docs and DESIGN.md), not
read back from the implementation; ``test_every_field_has_a_spec`` keeps the table complete.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import typing
from typing import NamedTuple

import jax
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tandem.algos import ALGO_NAMES, get_algo
from tandem.api import load_run_config, resolve_config, train
from tandem.cli import main
from tandem.config import RunConfig
from tandem.errors import TandemInputError

INT32_MAX = 2**31 - 1  # step counters and thresholds are int32 on the device
SEED_MAX = 2**31 - 1_000_000
ENV = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "impala": "CartPole-v1", "a3c": "CartPole-v1", "ddpg": "Pendulum-v1", "td3": "Pendulum-v1", "sac": "Pendulum-v1"}
OFF_POLICY = ("ddpg", "td3", "sac")

FAST = settings(max_examples=40, deadline=None)
FAST_TMP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- The contract: the range of every field ---------------------------------------------------------

class Int(NamedTuple):
    lo: int
    hi: int | None = INT32_MAX  # None: no upper bound (the memory preflight refuses what does not fit)


class Float(NamedTuple):  # always finite; bounds open or closed
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False


class NetSpec(NamedTuple):  # a network spec string (nets/spec.py): "mlp:64,64"; "mlp" alone has no hidden layer
    pass


class Other(NamedTuple):  # bools, strings, literals: only their type (or literal set) is checked
    pass


RUN_SPEC = {
    "env": Other(), "run_dir": Other(), "resume": Other(), "async_envs": Other(), "tensorboard": Other(),
    "quiet": Other(), "capture_video": Other(),
    "total_steps": Int(1), "seed": Int(0, SEED_MAX), "num_seeds": Int(1, 4096), "eval_episodes": Int(0),
    "log_every": Int(0), "checkpoint_every": Int(0), "target_return": Float(),
    "num_workers": Int(1, 4096), "envs_per_worker": Int(1), "lag": Int(0, 1), "max_worker_restarts": Int(0),
    "ray_address": Other(), "async_workers": Other(), "max_policy_lag": Int(0), "dataset": Other(), "init_from": Other(), "pretrain": Other(),
    "offline": Other(), "prefill": Other(),
}
PRUNE_SPEC = {"prune_sparsity": Float(0, 1, False, True), "prune_start": Float(0, 1), "prune_end": Float(0, 1),
              "prune_every": Int(0)}
ON_SPEC = {**PRUNE_SPEC,
    "num_envs": Int(1), "num_steps": Int(1),
    "lr": Float(0, lo_open=True), "opt_eps": Float(0, lo_open=True), "rmsprop_decay": Float(0, 1, True, True),
    "gamma": Float(0, 1, hi_open=True), "ent_coef": Float(0), "vf_coef": Float(0), "max_grad_norm": Float(0),
    "init_log_std": Float(), "actor_net": NetSpec(), "critic_net": NetSpec(),
    "anneal_lr": Other(), "optimizer": Other(), "normalize_obs": Other(),
    "normalize_reward": Other(), "activation": Other(), "use_sde": Other(), "sde_sample_freq": Int(0),
    "critic_warmup": Int(0),
}
PPO_SPEC = {**ON_SPEC, "update_epochs": Int(1), "num_minibatches": Int(1), "gae_lambda": Float(0, 1),
            "clip_coef": Float(0, lo_open=True), "clip_vloss": Other(), "norm_adv": Other()}
IMPALA_SPEC = {**ON_SPEC, "vtrace_lambda": Float(0, 1), "clip_rho": Float(0, lo_open=True),
               "clip_c": Float(0, lo_open=True), "clip_pg_rho": Float(0, lo_open=True)}
OFF_SPEC = {**PRUNE_SPEC,
    "num_envs": Int(1), "train_freq": Int(1), "utd": Float(0, lo_open=True), "buffer_size": Int(1),
    "batch_size": Int(1), "learning_starts": Int(0), "gamma": Float(0, 1, hi_open=True),
    "tau": Float(0, 1, lo_open=True), "actor_lr": Float(0, lo_open=True), "critic_lr": Float(0, lo_open=True),
    "num_critics": Int(1, 16), "actor_net": NetSpec(), "critic_net": NetSpec(),
    "activation": Other(), "save_replay": Other(),
}
TD3_SPEC = {**OFF_SPEC, "policy_delay": Int(1), "target_noise": Float(0), "target_noise_clip": Float(0),
            "exploration_noise": Float(0), "ou_theta": Float(0), "ou_dt": Float(0, lo_open=True),
            "noise_type": Other(), "bc_decay": Int(0), "bc_alpha": Float(0, lo_open=True)}
SAC_SPEC = {**OFF_SPEC, "alpha": Float(0, lo_open=True), "alpha_lr": Float(0, lo_open=True),
            "target_entropy": Float(), "autotune_alpha": Other()}
ALGO_SPEC = {"ppo": PPO_SPEC, "a2c": PPO_SPEC, "a3c": PPO_SPEC, "impala": IMPALA_SPEC, "ddpg": TD3_SPEC, "td3": TD3_SPEC, "sac": SAC_SPEC}


def spec_of(algo: str) -> dict:
    return {**RUN_SPEC, **ALGO_SPEC[algo]}


def ranged_fields(algo: str) -> list[str]:
    return sorted(k for k, s in spec_of(algo).items() if not isinstance(s, Other))


def hints_of(algo: str) -> dict:
    cls = get_algo(algo).config_cls
    return {**typing.get_type_hints(RunConfig), **typing.get_type_hints(cls)}


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def assert_names(err: str, field: str) -> None:
    assert flag(field) in err or field in err, f"{field!r} not named in: {err}"


# --- Strategies -----------------------------------------------------------------------------------

def out_of_range(spec) -> st.SearchStrategy:
    """Values just outside the range, far outside it, and the non-finite ones."""
    if isinstance(spec, Int):
        parts = [st.just(spec.lo - 1), st.integers(max_value=spec.lo - 1), st.just(-(2**63))]
        if spec.hi is not None:
            parts += [st.just(spec.hi + 1), st.integers(min_value=spec.hi + 1), st.just(2**64)]
        return st.one_of(parts)
    if isinstance(spec, Float):
        parts = [st.sampled_from([math.nan, math.inf, -math.inf])]
        if spec.lo is not None:
            edge = spec.lo if spec.lo_open else math.nextafter(spec.lo, -math.inf)
            parts += [st.just(edge), st.floats(max_value=edge, allow_nan=False, allow_infinity=False)]
            parts += [st.integers(max_value=math.floor(edge))]  # an int is a number too
            if spec.lo == 0 and spec.lo_open:
                parts += [st.sampled_from([0, -0.0])]
        if spec.hi is not None:
            edge = spec.hi if spec.hi_open else math.nextafter(spec.hi, math.inf)
            parts += [st.just(edge), st.floats(min_value=edge, allow_nan=False, allow_infinity=False),
                      st.integers(min_value=math.ceil(edge))]
        return st.one_of(parts)
    if isinstance(spec, NetSpec):  # a width that is not a positive integer, an unknown block, nothing at all
        widths = st.lists(st.integers(min_value=1, max_value=512).map(str), max_size=3)
        bad_width = st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["x", "", "1.5", "-", "2e3"]))
        bad_mlp = st.tuples(widths, bad_width, st.integers(0, 3)).map(
            lambda t: "mlp:" + ",".join(t[0][:t[2]] + [t[1]] + t[0][t[2]:]))
        unknown = st.sampled_from(["cnn:3", "transformer", "MLP:64", "mlp:64>nope", "mlp:64>", " "])
        return st.one_of(bad_mlp, unknown, st.just(""))
    raise AssertionError(spec)


def in_range(spec) -> st.SearchStrategy:
    if isinstance(spec, Int):
        return st.integers(spec.lo, spec.hi if spec.hi is not None else 2**40)
    if isinstance(spec, Float):
        return st.floats(spec.lo, spec.hi, exclude_min=spec.lo_open and spec.lo is not None,
                         exclude_max=spec.hi_open and spec.hi is not None, allow_nan=False, allow_infinity=False)
    if isinstance(spec, NetSpec):
        return st.lists(st.integers(1, 4096), max_size=4).map(lambda ws: "mlp" + (":" + ",".join(map(str, ws)) if ws else ""))
    raise AssertionError(spec)


_junk = st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


def wrong_type(hint) -> st.SearchStrategy:
    """Values of a type the field does not take (never one that it converts without loss)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    optional = type(None) in args
    if optional:
        hint = [a for a in args if a is not type(None)][0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    none = [] if optional else [st.none()]
    if hint is bool:  # ints (0 and 1 too) are not bools
        return st.one_of(st.integers(), st.floats(), _junk, *none)
    if hint is int:  # floats (3.0 too) and bools are not ints
        return st.one_of(st.floats(), st.booleans(), _junk, *none)
    if hint is float:  # bools are not numbers
        return st.one_of(st.booleans(), _junk, *none)
    if hint is str:  # (env: None means the default env, so it is not drawn for the one plain string field)
        return st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(max_size=3), max_size=2))
    if origin is tuple:  # a string, a number, or a sequence holding a non-integer
        bad_item = st.one_of(st.floats(), st.booleans(), st.text(max_size=3), st.none())
        return st.one_of(st.text(max_size=4), st.integers(), st.floats(), *none,
                         st.tuples(st.lists(st.integers(1, 64), max_size=2), bad_item).map(lambda t: t[0] + [t[1]]))
    if origin is typing.Literal:
        return st.one_of(st.text(max_size=8).filter(lambda s: s not in args), st.integers(), st.booleans(), *none)
    raise AssertionError(hint)


# --- No compilation on bad input --------------------------------------------------------------------

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # jax/_src/dispatch.py, BACKEND_COMPILE_EVENT


class _Compiles:
    def __init__(self):
        self.n = 0

    def __call__(self, event, duration, **kwargs):
        if event == COMPILE_EVENT:
            self.n += 1


@pytest.fixture(scope="module")
def compiles():
    """Counts XLA compilations. Every algorithm is resolved once first: importing the learners may
    compile a constant, which is not the validation's doing."""
    for algo in ALGO_NAMES:
        resolve_config(algo, ENV[algo])
    counter = _Compiles()
    jax.monitoring.register_event_duration_secs_listener(counter)
    try:
        yield counter
    finally:
        jax.monitoring.unregister_event_duration_listener(counter)


def test_the_compile_counter_counts(compiles):
    """The listener the no-compilation checks rely on does see a compilation."""
    before = compiles.n
    jax.jit(lambda x: x * 3 + compiles.n)(jax.numpy.arange(7.0)).block_until_ready()
    assert compiles.n > before


_dirs = itertools.count()


def fresh_dir(tmp_path):
    return tmp_path / f"run{next(_dirs)}"


def cli_value(value) -> list[str]:
    return [str(value)]


def cli_rejects(capsys, tmp_path, algo: str, args: list[str]) -> str:
    """Runs `tandem train ALGO ARGS --run-dir D` in process: exit 2, no D; returns stderr."""
    run_dir = fresh_dir(tmp_path)
    code = main(["train", algo, "--env", ENV[algo], *args, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2, (args, err)
    assert not run_dir.exists()
    return err


# --- The table is complete ----------------------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGO_NAMES)
def test_every_field_has_a_spec(algo):
    fields = {f.name for cls in (RunConfig, get_algo(algo).config_cls) for f in dataclasses.fields(cls)}
    assert set(spec_of(algo)) == fields
    hints = hints_of(algo)
    for name, spec in spec_of(algo).items():  # every number and every tuple of numbers has a range
        types = {typing.get_origin(h) or h for h in (hints[name], *typing.get_args(hints[name]))}
        numeric = {int, float, tuple} & types
        assert isinstance(spec, Other) != (bool(numeric) or isinstance(spec, NetSpec)), name


# --- Unknown keys ---------------------------------------------------------------------------------

@FAST
@given(algo=st.sampled_from(ALGO_NAMES), key=st.text(min_size=1, max_size=24),
       value=st.integers() | st.text(max_size=4))
def test_unknown_key_is_refused_by_name(algo, key, value):
    assume(key not in spec_of(algo) and key not in ("algo", "env"))
    with pytest.raises(TandemInputError) as e:
        resolve_config(algo, ENV[algo], **{key: value})
    assert repr(key) in str(e.value)


@FAST_TMP
@given(algo=st.sampled_from(ALGO_NAMES),
       name=st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True), value=st.integers(0, 9))
def test_cli_unknown_flag_exits_2_naming_it(tmp_path, capsys, compiles, algo, name, value):
    field = name.removeprefix("no-").replace("-", "_")
    assume(field not in spec_of(algo) and name not in ("h", "help"))
    before = compiles.n
    err = cli_rejects(capsys, tmp_path, algo, [f"--{name}", str(value)])
    assert f"--{name}" in err
    assert compiles.n == before


# --- Wrong types ----------------------------------------------------------------------------------

@st.composite
def wrong_typed(draw):
    algo = draw(st.sampled_from(ALGO_NAMES))
    field = draw(st.sampled_from(sorted(spec_of(algo))))
    value = draw(wrong_type(hints_of(algo)[field]))
    return algo, field, value


@FAST
@given(case=wrong_typed())
def test_wrong_type_is_refused_naming_the_field(case):
    algo, field, value = case
    env = value if field == "env" else ENV[algo]
    kw = {} if field == "env" else {field: value}
    with pytest.raises(TandemInputError) as e:
        resolve_config(algo, env, **kw)
    assert_names(str(e.value), field)
    assert "allowed" in str(e.value)


@FAST_TMP
@given(data=st.data())
def test_cli_wrong_type_exits_2_naming_the_flag(tmp_path, capsys, compiles, data):
    algo = data.draw(st.sampled_from(ALGO_NAMES))
    hints = hints_of(algo)
    field = data.draw(st.sampled_from(sorted(k for k, h in hints.items() if h in (int, float) or
                                             typing.get_origin(h) is tuple)))
    parse = int if typing.get_origin(hints[field]) is tuple else hints[field]

    def unparsable(s: str) -> bool:
        try:
            parse(s)
        except ValueError:
            return True
        return False

    text = data.draw(st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=10)
                     .filter(lambda s: unparsable(s) and not s.startswith("-")))
    before = compiles.n
    err = cli_rejects(capsys, tmp_path, algo, [f"{flag(field)}={text}"])
    assert flag(field) in err
    assert compiles.n == before


def test_literal_fields_list_the_allowed_values():
    with pytest.raises(TandemInputError, match=r"--optimizer 'sgd'.*'adam', 'rmsprop'"):
        resolve_config("ppo", optimizer="sgd")
    with pytest.raises(TandemInputError, match=r"--noise-type.*'gaussian', 'ou'"):
        resolve_config("td3", noise_type="pink")


def test_lossless_conversions_are_accepted():
    """numpy scalars and a path for a directory: accepted as the field's own type."""
    import pathlib

    import numpy as np

    cfg = resolve_config("ppo", "CartPole-v1", num_envs=np.int64(4), lr=np.float32(0.5), anneal_lr=np.bool_(False),
                         actor_net="mlp:32,16", run_dir=pathlib.Path("somewhere"), total_steps=np.int32(1000))
    ac = cfg.algo_config
    assert (type(ac.num_envs), type(ac.lr), type(ac.anneal_lr)) == (int, float, bool)
    assert ac.actor_net == "mlp:32,16" and cfg.run.run_dir == "somewhere" and cfg.run.total_steps == 1000
    json.dumps(cfg.to_dict())  # config.json must be writable


def test_replaced_hidden_width_options_name_their_replacement(tmp_path, capsys, compiles):
    """--actor-hidden/--critic-hidden were replaced by network specs: the error says by what, before compiling."""
    with pytest.raises(TandemInputError, match=r"'actor_hidden' was replaced by 'actor_net'.*mlp:64,64"):
        resolve_config("ppo", actor_hidden=(64, 64))
    before = compiles.n
    err = cli_rejects(capsys, tmp_path, "sac", ["--critic-hidden", "64", "64"])
    assert "--critic-hidden was replaced by --critic-net" in err and "mlp:64,64" in err
    assert compiles.n == before


# --- Out of range ---------------------------------------------------------------------------------

@st.composite
def out_of_range_case(draw, algos=ALGO_NAMES):
    algo = draw(st.sampled_from(algos))
    field = draw(st.sampled_from(ranged_fields(algo)))
    return algo, field, draw(out_of_range(spec_of(algo)[field]))


@settings(max_examples=150, deadline=None)
@given(case=out_of_range_case())
def test_out_of_range_is_refused_naming_the_field(case):
    algo, field, value = case
    with pytest.raises(TandemInputError) as e:
        resolve_config(algo, ENV[algo], **{field: value})
    msg = str(e.value)
    assert flag(field) in msg and "allowed" in msg, msg


@FAST_TMP
@given(case=out_of_range_case())
def test_cli_out_of_range_exits_2_before_compiling(tmp_path, capsys, compiles, case):
    algo, field, value = case
    before = compiles.n
    args = [flag(field), *cli_value(value)] if isinstance(value, tuple) else [f"{flag(field)}={value}"]
    if isinstance(value, tuple) and not value:
        args = [flag(field)]  # no widths at all
    err = cli_rejects(capsys, tmp_path, algo, args)
    assert flag(field) in err and "allowed" in err, err
    assert compiles.n == before


@FAST_TMP
@given(case=out_of_range_case() | wrong_typed())
def test_train_refuses_before_compiling_or_writing(tmp_path, compiles, case):
    algo, field, value = case
    assume(field not in ("env", "run_dir"))
    run_dir = fresh_dir(tmp_path)
    before = compiles.n
    kw = {"run_dir": str(run_dir), "total_steps": 64, field: value}
    with pytest.raises(TandemInputError) as e:
        train(algo, ENV[algo], **kw)
    assert_names(str(e.value), field)
    assert not run_dir.exists()
    assert compiles.n == before


@FAST_TMP
@given(case=out_of_range_case() | wrong_typed())
def test_a_corrupted_config_json_is_refused(tmp_path, case):
    """config.json (resume, eval) is validated as strictly as the command line."""
    algo, field, value = case
    d = fresh_dir(tmp_path)
    d.mkdir()
    cfg = resolve_config(algo, ENV[algo]).to_dict()
    cfg["run" if field in RUN_SPEC else "algo_config"][field] = list(value) if isinstance(value, tuple) else value
    try:
        (d / "config.json").write_text(json.dumps(cfg))
    except ValueError:  # an int too long for str()
        assume(False)
    with pytest.raises(TandemInputError) as e:
        load_run_config(d)
    assert_names(str(e.value), field)


# --- In range: resolves (the validation is not too strict) ----------------------------------------

@st.composite
def valid_overrides(draw):
    """Several fields at once, each in range, including the ones that must agree with each other."""
    algo = draw(st.sampled_from(ALGO_NAMES))
    spec = spec_of(algo)
    free = sorted(k for k in ranged_fields(algo) if k not in ("total_steps", "num_envs", "num_steps",
                                                              "num_minibatches", "train_freq", "utd",
                                                              "num_workers", "envs_per_worker",
                                                              "prune_start", "prune_end", *FIXED.get(algo, ())))
    chosen = draw(st.lists(st.sampled_from(free), unique=True, max_size=8))
    kw = {k: draw(in_range(spec[k])) for k in chosen}
    kw["num_envs"] = draw(st.integers(1, 64))
    if "prune_start" in spec:   # the pruning window: start below end
        kw["prune_start"] = draw(st.floats(0.0, 0.9))
        kw["prune_end"] = draw(st.floats(kw["prune_start"] + 0.05, 1.0))
    if algo in OFF_POLICY:
        kw["train_freq"] = draw(st.integers(1, 64))
        per_call = kw["num_envs"] * kw["train_freq"]
        kw["utd"] = draw(st.integers(1, 256)) / per_call  # a whole number of gradient steps per call
        per_update = per_call
    else:
        kw["num_steps"] = draw(st.integers(1, 512))
        per_update = kw["num_envs"] * kw["num_steps"]
        if algo not in ("impala", "a3c"):
            kw["num_minibatches"] = draw(st.sampled_from([d for d in range(1, per_update + 1) if per_update % d == 0]))
    updates = draw(st.integers(1, min(10**6, INT32_MAX // per_update, INT32_MAX // 256)))
    kw["total_steps"] = draw(st.integers(max(1, (updates - 1) * per_update + 1), updates * per_update))
    return algo, kw


@settings(max_examples=100, deadline=None)
@given(case=valid_overrides())
def test_in_range_values_resolve(case):
    algo, kw = case
    cfg = resolve_config(algo, ENV[algo], **kw)
    for k, v in kw.items():
        got = getattr(cfg.run if k in RUN_SPEC else cfg.algo_config, k)
        assert got == v, k


def _with_compatible(algo: str, field: str, value) -> dict:
    """{field: value} and the fewest other settings that let that value stand on its own: a rollout of
    one step when value is a huge rollout dimension or total, and a whole number of gradient steps."""
    kw = {field: value}
    if field in ("num_envs", "num_steps", "train_freq", "total_steps", "num_minibatches"):
        kw = {"num_envs": 1, "total_steps": 1, **({"train_freq": 1, "utd": 1.0} if algo in OFF_POLICY else
                                                   {"num_steps": 1} if algo == "impala" else
                                                   {"num_steps": 1, "num_minibatches": 1}), **kw}
        if field == "num_minibatches":  # the batch must be a multiple
            kw["num_steps"] = value
        if algo in OFF_POLICY and field in ("num_envs", "train_freq"):
            kw["utd"] = 1.0 / value
    if field == "utd":  # 1/64 needs 64 transitions per training call
        kw = {"num_envs": 1, "train_freq": max(1, round(1 / value)), **kw}
    if field == "num_workers":  # each worker steps num_envs / num_workers envs
        kw = {"num_envs": value, "num_steps": 1, "total_steps": 1, **kw}
    if field == "envs_per_worker":
        kw = {"num_workers": 1, "num_envs": value, "num_steps": 1, "total_steps": 1, **kw}
    return kw


RAY_ONLY = ("num_workers", "envs_per_worker")
"""Fields legal only with the Ray runner, which drives the on-policy learners."""
FIXED = {"a3c": ("update_epochs", "num_minibatches")}
"""Fields an algorithm allows one value of (A3C: one gradient of the whole rollout), tested on their own."""


@pytest.mark.parametrize("algo", ALGO_NAMES)
def test_range_edges_resolve(algo):
    """The extreme legal values of every range are allowed, one field at a time."""
    for field in ranged_fields(algo):
        if (field in RAY_ONLY and algo in OFF_POLICY) or field in FIXED.get(algo, ()):
            continue
        spec = spec_of(algo)[field]
        if isinstance(spec, Int):
            edges = [spec.lo, spec.hi if spec.hi is not None else 2**40]
        elif isinstance(spec, Float):
            edges = [-1e300 if spec.lo is None else math.nextafter(spec.lo, math.inf) if spec.lo_open else spec.lo,
                     1e300 if spec.hi is None else math.nextafter(spec.hi, -math.inf) if spec.hi_open else spec.hi]
        else:
            edges = ["mlp:1", "mlp:4096,1,7", "mlp", " mlp : 8 , 8 "]
        if field == "utd":
            edges = [1 / 64, 1.0, 64.0]  # its range is the product rule, tested below
        for v in edges:
            resolve_config(algo, ENV[algo], **_with_compatible(algo, field, v))


# --- Incompatible combinations ----------------------------------------------------------------------

@FAST
@given(algo=st.sampled_from(("ppo", "a2c")), num_envs=st.integers(1, 64), num_steps=st.integers(1, 256),
       num_minibatches=st.integers(1, 20_000))
def test_ppo_minibatches_must_divide_the_batch(algo, num_envs, num_steps, num_minibatches):
    kw = dict(num_envs=num_envs, num_steps=num_steps, num_minibatches=num_minibatches)
    if (num_envs * num_steps) % num_minibatches == 0:
        resolve_config(algo, ENV[algo], **kw)
    else:
        with pytest.raises(TandemInputError, match="--num-minibatches .*allowed: a divisor of"):
            resolve_config(algo, ENV[algo], **kw)


@st.composite
def not_whole_gradient_steps(draw):
    num_envs, train_freq = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    whole = draw(st.integers(0, 64))
    frac = draw(st.floats(0.001, 0.999))
    return dict(num_envs=num_envs, train_freq=train_freq, utd=(whole + frac) / (num_envs * train_freq))


@FAST
@given(algo=st.sampled_from(OFF_POLICY), kw=not_whole_gradient_steps())
def test_offpolicy_gradient_steps_per_call_must_be_whole(algo, kw):
    with pytest.raises(TandemInputError, match="--utd .* x --train-freq .* x --num-envs .*allowed"):
        resolve_config(algo, ENV[algo], **kw)


@FAST
@given(algo=st.sampled_from(OFF_POLICY), tiny=st.floats(5e-324, 1e-10))
def test_offpolicy_at_least_one_gradient_step_per_call(algo, tiny):
    """A product that rounds to 0 gradient steps would never learn."""
    with pytest.raises(TandemInputError, match="--utd"):
        resolve_config(algo, ENV[algo], utd=tiny)


@FAST
@given(algo=st.sampled_from(ALGO_NAMES), num_envs=st.integers(1, 1024), rollout=st.integers(1, 1024),
       over=st.integers(1, 2**20))
def test_total_steps_rounded_up_must_fit_int32(algo, num_envs, rollout, over):
    """total_steps is rounded up to whole rollouts; the result is an int32 step count on the device."""
    per_update = num_envs * rollout
    kw = dict(num_envs=num_envs, **({"train_freq": rollout, "utd": 1 / per_update} if algo in OFF_POLICY
                                     else {"num_steps": rollout} if algo == "impala"
                                     else {"num_steps": rollout, "num_minibatches": 1}))
    fits = (INT32_MAX // per_update) * per_update  # the largest total that needs no rounding past int32
    resolve_config(algo, ENV[algo], total_steps=fits, **kw)
    if fits < INT32_MAX:
        bad = min(INT32_MAX, fits + over)  # rounds up to fits + per_update > INT32_MAX
        with pytest.raises(TandemInputError, match="--total-steps"):
            resolve_config(algo, ENV[algo], total_steps=bad, **kw)


@FAST
@given(algo=st.sampled_from(OFF_POLICY), utd=st.integers(2, 64))
def test_offpolicy_total_gradient_steps_must_fit_int32(algo, utd):
    kw = dict(num_envs=1, train_freq=1, utd=float(utd))
    total = INT32_MAX // utd + 1  # utd * total > INT32_MAX
    with pytest.raises(TandemInputError, match="--total-steps .*--utd"):
        resolve_config(algo, ENV[algo], total_steps=total, **kw)
    resolve_config(algo, ENV[algo], total_steps=INT32_MAX // utd, **kw)


@FAST_TMP
@given(data=st.data())
def test_cli_incompatible_combinations_exit_2(tmp_path, capsys, compiles, data):
    algo = data.draw(st.sampled_from([a for a in ALGO_NAMES if a != "impala"]))  # no combination of its own
    if algo in OFF_POLICY:
        kw, needle = data.draw(not_whole_gradient_steps()), "--utd"
    else:
        num_envs, num_steps = data.draw(st.integers(1, 16)), data.draw(st.integers(1, 64))
        nm = data.draw(st.integers(2, 4 * num_envs * num_steps).filter(lambda m: (num_envs * num_steps) % m))
        kw, needle = dict(num_envs=num_envs, num_steps=num_steps, num_minibatches=nm), "--num-minibatches"
    before = compiles.n
    err = cli_rejects(capsys, tmp_path, algo, [f"{flag(k)}={v!r}" for k, v in kw.items()])
    assert needle in err and "allowed" in err
    assert compiles.n == before


@pytest.mark.parametrize("algo", ALGO_NAMES)
def test_every_preset_is_a_valid_config_for_a_registered_env(algo):
    """A preset is data typed by hand: each must validate (ranges, minibatches dividing the batch) and name an
    environment that exists (a Gymnasium id, or a JAX backend's prefix)."""
    import gymnasium

    from tandem.algos import get_algo, preset
    from tandem.envs import atari

    for env_id in get_algo(algo).presets:
        if env_id == "default":
            continue
        preset(algo, env_id)[0].validate()
        if atari.is_atari(env_id):
            atari.register(env_id)  # ale-py's games exist in Gymnasium's registry only once it is imported
        if ":" not in env_id:
            gymnasium.spec(env_id)  # raises for an unknown id
