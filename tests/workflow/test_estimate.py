"""Wall times estimated from a store's Records, and resources="auto"."""

from __future__ import annotations

import subprocess
import sys

import pytest
import wfsteps
from ase.build import bulk
from ase.io import read
from myqueue import workflow as mq
from myqueue.utils import chdir

from asr.core import use_store
from asr.store import open_store
from asr.workflow import WorkflowError, run, runner
from asr.workflow import estimate as est


def cu(n: int):
    return bulk("Cu", "fcc", a=3.6).repeat((n, 1, 1))


def fill(root, sizes) -> None:
    """Real Records of test.wf.grow (20 ms per atom) for Cu chains of `sizes`."""
    with use_store(open_store(root)):
        for n in sizes:
            wfsteps.grow(cu(n))


@pytest.fixture(autouse=True)
def fresh_estimates():
    """Fits are kept per process (one `mq workflow`); each test starts anew."""
    runner._state.estimators.clear()
    yield
    runner._state.estimators.clear()


def grow_resources(folder, function) -> list[tuple[int, int]]:
    """(cores, tmax) of the test.wf.grow tasks `mq workflow` would submit."""
    with chdir(folder):
        tasks = mq.collect(function, folder / "flow.py")
    return sorted(
        (t.resources.cores, t.resources.tmax)
        for t in tasks
        if t.cmd.name.startswith("test.wf.grow")
    )


def test_features_of_a_gpaw_specification():
    atoms = bulk("Si", "diamond", a=5.43)
    spec = {"name": "gpaw", "mode": {"name": "pw", "ecut": 500}, "kpts": [4, 4, 4]}
    found = est.features({"atoms": atoms, "calculator": spec}, ranks=8)
    assert found == {
        "cores": 8.0,
        "atoms": 2.0,
        "electrons": 8.0,
        "kpts": 64.0,
        "ecut": 500.0,
    }
    denser = {**spec, "kpts": {"density": 6.0, "gamma": True}}
    coarser = {**spec, "kpts": {"density": 2.0, "gamma": True}}
    assert (
        est.features({"atoms": atoms, "calculator": denser})["kpts"]
        > (est.features({"atoms": atoms, "calculator": coarser})["kpts"])
    )
    assert est.valence([26, 79, 8]) == 8 + 11 + 6  # Fe, Au, O


def test_fit_predicts_larger_times_for_larger_inputs(tree):
    fill(tree, range(1, 9))
    found = est.examples(open_store(tree), "test.wf.grow")["test.wf.grow"]
    assert sorted(e.features["atoms"] for e in found) == list(range(1, 9))
    model = est.fit("test.wf.grow", found)
    assert model is not None and model.examples == 8
    # Electrons of one element grow with the atoms: one exponent, not two.
    assert model.features == ("atoms",) and model.coefficients[1] > 0.5
    small, large = (model.predict(est.features({"atoms": cu(n)})) for n in (2, 16))
    assert large > 4 * small
    # Four Records are too few to fit.
    assert est.fit("test.wf.grow", found[:4]) is None


def test_auto_resources_fall_back_with_too_few_examples(tree):
    folder = tree / "tree" / "Cu"

    def flow():
        atoms = read("structure.json")
        run(wfsteps.grow, atoms.repeat((9, 1, 1)), resources="auto", fallback="4:3h")
        strained = run(wfsteps.strain, atoms, factor=1.01)
        big = strained.result  # not known yet: nothing to estimate from
        run(wfsteps.grow, big, resources="auto", fallback="4:3h")

    fill(tree, range(1, 5))
    assert grow_resources(folder, flow) == [(4, 3 * 3600)] * 2

    fill(tree, range(5, 9))
    runner._state.estimators.clear()  # a new `mq workflow` process
    resources = grow_resources(folder, flow)
    # Estimated: milliseconds, so the floor of ten minutes, on 4 cores; the
    # call whose atoms wait for another task keeps the fallback.
    assert resources == [(4, 600), (4, 3 * 3600)]


def test_fallback_only_with_auto(tree):
    def flow():
        run(wfsteps.nap, 0.0, resources="1:1h", fallback="4:3h")

    with pytest.raises(WorkflowError, match="fallback"):
        grow_resources(tree / "tree" / "Cu", flow)


def test_tmax_is_the_estimate_with_a_margin():
    assert est.tmax_for(1.0) == 600  # the floor
    assert est.tmax_for(3000.0) == 6000
    assert est.tmax_for(3001.0, floor=0) == 6060  # up to whole minutes
    assert est.time_string(6000) == "100m" and est.time_string(7200) == "2h"


def test_leave_one_out_counts_who_would_hit_the_limit():
    # Times that grow as atoms^2 (in minutes), and one call far slower
    # than its size says: predicted from the others, it runs out of time.
    found = [
        est.Example("x", f"u{n}", 60.0 * n**2, {"atoms": float(n), "cores": 1.0})
        for n in range(1, 9)
    ]
    found[5].wall_time *= 10
    checks = est.leave_one_out(found, margin=2.0, floor=0)
    assert all(c.predicted is not None for c in checks)
    assert [c.hit_limit for c in checks] == [i == 5 for i in range(8)]
    h = est.honesty("x", checks)
    assert h.examples == h.predicted == 8 and h.hits == 1 and h.beyond_margin == 1
    assert h.lowest_ratio == checks[5].ratio < 0.2
    assert 0.5 < h.median_ratio < 2.0
    # Too few others: no prediction, no limit.
    assert [c.predicted for c in est.leave_one_out(found[:5])] == [None] * 5
    # ... unless fewer will do (a fit of 3 others has one feature).
    fewer = est.leave_one_out(found[:4], floor=0, least=3)
    assert all(c.predicted is not None for c in fewer)


def test_cli_estimate(tree):
    fill(tree, range(1, 9))

    def asr(*args):
        return subprocess.run(
            [sys.executable, "-m", "asr.cli.main", "workflow", "estimate", *args],
            cwd=tree,
            capture_output=True,
            text=True,
        )

    done = asr("test.wf.grow", "--records")
    assert done.returncode == 0, done.stderr
    assert "test.wf.grow" in done.stdout and "atoms^" in done.stdout
    assert "8 of 8" in done.stdout  # every Record predicted from the 7 others
    assert done.stdout.count("atoms=") == 8
    fewer = asr("--min-records", "8")  # 7 others are too few
    assert "0 of 8" in fewer.stdout
    missing = asr("no.such.instruction")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("Error: no Records of no.such")
    assert "Traceback" not in missing.stderr
