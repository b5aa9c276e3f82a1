"""``tandem export``: a trained policy as dependency-free code (a numpy module, C source, or an ONNX model).

:func:`export` reads a run directory (or member ``K`` of an architecture search, ``RUN_DIR/members/K``),
checks that the chosen format can express its policy (from config.json, then the checkpoint's env spec,
before any weight is read or any file written), extracts the actor once as plain layers
(:mod:`tandem.export.extract`) and renders them in one format (``numpy_fmt``, ``c_fmt``, ``onnx_fmt``). The
exported function is ``tandem.load_policy(run_dir, seed_index)(obs)``: observation normalisation, the actor,
and the deterministic action in the environment's own action space.
"""

from __future__ import annotations

import os
from pathlib import Path

from tandem.errors import TandemInputError

FORMATS = ("numpy", "c", "onnx")
"""The export formats: a numpy-only Python module, C99 source (a header and a .c file), an ONNX model."""

_SUFFIX = {"numpy": ".py", "onnx": ".onnx"}


def member_run_dir(run_dir, member: int | None) -> Path:
    """The run directory to export: ``run_dir`` itself, or a search's member ``run_dir/members/<member>``
    (a TandemInputError listing the members there when it has no such member)."""
    root = Path(run_dir)
    if member is None:
        return root
    if not root.is_dir():
        raise TandemInputError(f"run directory {str(root)!r} does not exist.")
    path = root / "members" / str(member)
    if path.is_dir():
        return path
    members_dir = root / "members"
    found = sorted(int(p.name) for p in members_dir.iterdir() if p.is_dir() and p.name.isdigit()) \
        if members_dir.is_dir() else []
    have = (f"members available: {', '.join(map(str, found))}" if found else
            f"{str(root)!r} has no members (members/ is {'empty' if members_dir.is_dir() else 'missing'}: not an "
            f"architecture-search directory, or no member was written yet)")
    raise TandemInputError(f"--member {member}: {str(path)!r} does not exist; {have}.")


def output_paths(fmt: str, out) -> tuple[Path, ...]:
    """The files an export to ``fmt`` writes for ``-o out``: ``out`` (.py for numpy, .onnx for onnx), or
    ``out.h`` and ``out.c`` for c (``out`` may end in .c or .h)."""
    out = Path(out)
    if fmt == "c":
        stem = out.with_suffix("") if out.suffix in (".c", ".h") else out
        if not stem.name:
            raise TandemInputError(f"-o {str(out)!r}: give a file stem for c, e.g. -o build/policy (writes "
                                   f"build/policy.h and build/policy.c).")
        paths = (stem.with_name(stem.name + ".h"), stem.with_name(stem.name + ".c"))
    else:
        if out.suffix != _SUFFIX[fmt]:
            raise TandemInputError(f"-o {str(out)!r}: a {fmt} export is a {_SUFFIX[fmt]} file; allowed: a path "
                                   f"ending in {_SUFFIX[fmt]}, e.g. policy{_SUFFIX[fmt]}.")
        paths = (out,)
    for p in paths:
        if p.is_dir():
            raise TandemInputError(f"-o {str(out)!r}: {str(p)!r} is a directory; allowed: a file path.")
    return paths


def _renderer(fmt: str):
    """The format's ``render(graph, paths) -> {path: bytes}``; onnx checks its package is installed first."""
    if fmt == "numpy":
        from tandem.export.numpy_fmt import render
    elif fmt == "c":
        from tandem.export.c_fmt import render
    else:
        from tandem.export.onnx_fmt import render, require_onnx

        require_onnx()
    return render


def load_graph(run_dir, seed_index: int = 0, fmt: str = "this format", meta: dict | None = None):
    """The PolicyGraph of seed ``seed_index`` of a run, from its latest checkpoint: its manifest's config and env
    spec are checked against ``fmt`` before the weights are loaded (with ``tandem.load_policy``'s machinery)."""
    from tandem.api import latest_manifest, load_policy
    from tandem.export.extract import check_config, check_env_spec, graph_from_state
    from tandem.nets.spec import NetworkSpec

    run_dir = Path(run_dir)
    ckpt, manifest, cfg, spec = latest_manifest(run_dir)
    check_config(cfg, fmt)
    check_env_spec(spec, fmt)
    policy = load_policy(run_dir, seed_index)
    # The learner state and network spec load_policy loaded (its own attributes: one loader, not two).
    actor_spec = NetworkSpec.from_dict(policy._learner.network_spec["actor"])
    meta = {"algo": cfg.algo, "env": cfg.run.env, "run_dir": str(run_dir), "seed_index": seed_index,
            "checkpoint": ckpt.name, "actor_net": actor_spec.to_string(), "activation": actor_spec.activation,
            "tandem_version": manifest.get("tandem_version"), **(meta or {})}
    return graph_from_state(cfg.algo, cfg.algo_config, policy.spec, actor_spec, policy._state, meta, fmt)


def _write(files: dict) -> None:
    """Write each file via a temporary name and a rename (a reader never sees half a file)."""
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def export(run_dir, fmt: str, out, member: int | None = None, seed_index: int = 0) -> dict:
    """Export the deterministic policy of a run (seed ``seed_index``; search member ``member``) to ``fmt``
    (one of FORMATS) at ``out`` (see :func:`output_paths`).

    Returns {"format", "files" (paths written), "weight_bytes" (4 x num_params), "num_params" (float32 numbers
    embedded: the layers kept and the normalisation's mean and std), "actor_params" (the checkpoint's actor
    parameters), "normalize_obs", "algo", "env", "run_dir", "member", "seed_index", "checkpoint", "obs_shape",
    "action" (kind, size)}. Anything the format cannot express raises TandemInputError before anything is written.
    """
    if fmt not in FORMATS:
        raise TandemInputError(f"--format {fmt!r} is not an export format; allowed: {', '.join(FORMATS)}.")
    if isinstance(seed_index, bool) or not isinstance(seed_index, int):
        raise TandemInputError(f"--seed-index {seed_index!r}: allowed an integer >= 0.")
    src = member_run_dir(run_dir, member)
    paths = output_paths(fmt, out)
    from tandem.api import load_run_config
    from tandem.export.extract import check_config

    cfg = load_run_config(src)
    check_config(cfg, fmt)
    if not 0 <= seed_index < cfg.run.num_seeds:
        raise TandemInputError(f"--seed-index {seed_index} is out of range: the run has {cfg.run.num_seeds} seed(s); "
                               f"allowed 0 to {cfg.run.num_seeds - 1}.")
    render = _renderer(fmt)
    graph = load_graph(src, seed_index, fmt, {"member": member})
    files = render(graph, paths)
    _write(files)
    action = ({"kind": "discrete", "num_actions": graph.num_actions} if graph.action_kind == "discrete" else
              {"kind": "continuous", "dim": graph.action_dim, "squash": graph.squash})
    return {"format": fmt, "files": [str(p) for p in files], "weight_bytes": graph.weight_bytes,
            "num_params": graph.num_params, "actor_params": graph.actor_params,
            "normalize_obs": graph.obs_mean is not None, "algo": cfg.algo, "env": cfg.run.env, "run_dir": str(src),
            "member": member, "seed_index": seed_index, "checkpoint": graph.meta.get("checkpoint"),
            "obs_shape": list(graph.obs_shape), "action": action}
