"""`tandem plot RUN_DIR... -o FILE` through the real CLI, on fake run directories."""

from __future__ import annotations

import json

import pytest

from tandem.cli import main
from tandem.plot import load_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(path, algo, env, header, rows):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"algo": algo, "run": {"env": env, "seed": 0}}))
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    (path / "metrics.csv").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def runs(tmp_path):
    # Three seeds; empty cells where no episode had finished yet (a whole row, then one seed).
    multi = make_run(
        tmp_path / "ppo_multi", "ppo", "gymnax:CartPole-v1",
        ["env_steps", "wall_seconds", "episode_return_mean", "losses/value",
         "episode_return_mean/seed0", "episode_return_mean/seed1", "episode_return_mean/seed2"],
        [[1000, 1.0, "", 0.5, "", "", ""],
         [2000, 2.0, 15.0, 0.4, 10.0, 20.0, ""],
         [3000, 3.0, 40.0, 0.3, 30.0, 40.0, 50.0]],
    )
    single = make_run(
        tmp_path / "a2c_single", "a2c", "CartPole-v1",
        ["env_steps", "wall_seconds", "episode_return_mean"],
        [[500, 0.5, ""], [1000, 1.0, 12.5], [1500, 1.5, 30.0]],
    )
    return multi, single


def test_plot_two_runs_writes_png(capsys, tmp_path, runs):
    out = tmp_path / "c.png"
    code = main(["plot", str(runs[0]), str(runs[1]), "-o", str(out)])
    assert code == 0, capsys.readouterr()
    assert str(out) in capsys.readouterr().out
    data = out.read_bytes()
    assert len(data) > 0 and data.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_other_formats_and_wall_clock_axis(tmp_path, runs, suffix, magic):
    out = tmp_path / f"c{suffix}"
    assert main(["plot", str(runs[0]), "-o", str(out), "--x", "wall_seconds"]) == 0
    assert out.read_bytes().startswith(magic)


def test_curve_skips_empty_cells_and_spans_seeds(runs):
    multi = load_curve(str(runs[0]))
    assert multi.label == "ppo gymnax:CartPole-v1 (ppo_multi)"
    assert multi.num_seeds == 3
    assert multi.x == [2000.0, 3000.0]
    assert multi.mean == [15.0, 40.0]
    assert (multi.low, multi.high) == ([10.0, 30.0], [20.0, 50.0])
    single = load_curve(str(runs[1]), x="wall_seconds")
    assert single.num_seeds == 1
    assert (single.x, single.mean) == ([1.0, 1.5], [12.5, 30.0])


def test_missing_run_dir_exits_2(capsys, tmp_path, runs):
    missing = tmp_path / "no_such_run"
    code = main(["plot", str(runs[0]), str(missing), "-o", str(tmp_path / "c.png")])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()


def test_dir_without_metrics_exits_2(capsys, tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    assert main(["plot", str(empty), "-o", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "metrics.csv is missing" in err


def test_unsupported_format_exits_2_naming_allowed(capsys, tmp_path, runs):
    assert main(["plot", str(runs[0]), "-o", str(tmp_path / "c.jpg")]) == 2
    err = capsys.readouterr().err
    assert ".jpg" in err and ".png, .pdf, .svg" in err
