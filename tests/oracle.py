"""The one oracle helper: MMOCR reference outputs in ../shared/oracle (1.0.1) and
../shared/oracle/mmocr0x (0.6.3), their weights, and the parity allowance every oracle test uses.

Loading: `oracle_file` / `oracle_subdir` skip the test with a reason when the data is absent;
`state_dict` rebuilds a config's weights with the oracle's own `tools/oracle_weights.py`.

Parity: `compare(what, ours, ref, exact, cap)` measures our float32 output against the oracle's
(`rel_err`: largest difference over the reference's largest magnitude) and allows

    min(cap, max(FLOOR, FACTOR * rel_err(ours, exact)))

where ``exact`` is the same network and weights run in float64 (None where a test has no such
run: then FLOOR). Why: both the oracle and we compute a float32 approximation of the float64
function, in different summation orders (another CPU, another kernel). Our own distance from
float64 measures how far that rounding can move this tensor; the oracle's is of the same size
(measured on a 2-core AVX-512 machine, 2026-12-06: 0.5x-1.2x ours for DBNet, DBNet++, PANet,
PSENet, FCENet, TextSnake, ABINet, ASTER, CRNN), so ours - oracle <= (ours - exact) + (exact -
oracle) is about 2x ours at worst; measured it is at most 1.2x ours (1.6x for the folded served
build). FACTOR 3 leaves room for that without letting a real change through. FLOOR is what
well-conditioned nets reach (1e-4 of the magnitude; float32 nets differ by 0-9e-5 here).
``cap`` is the largest allowance a tensor may ever get, chosen per tensor in its test from the
measured distances, so an ill-conditioned float64 comparison can never widen it without bound.
Every family shows in its tests that a wrong constant or a swapped weight exceeds its allowance.
"""
from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from service.tooling.training import torch_threads_kept
from tests.conftest import SHARED, one_torch_thread

ORACLE = SHARED / "oracle"
FLOOR = 1e-4
FACTOR = 3.0


# -- loading ---------------------------------------------------------------------------------

def oracle_subdir(sub: str = "") -> Path:
    """The 1.0.1 oracle (``sub=""``) or one beside it in the same conventions (``"mmocr0x"``:
    MMOCR 0.6.3's NER, SegOCR and CRNN-TPS); skips when absent."""
    path = ORACLE / sub
    if not (path / "README.md").exists():
        pytest.skip(f"MMOCR oracle reference data not available at {path}")
    return path


def oracle_file(*parts: str, sub: str = "") -> Path:
    """A file of the oracle, or skip the test with the reason."""
    path = oracle_subdir(sub).joinpath(*parts)
    if not path.exists():
        pytest.skip(f"MMOCR oracle data not available: {path}")
    return path


def weights_tools():
    """The oracle's `tools/oracle_weights.py` module (gen_array, regenerate_state_dict)."""
    tools = str(oracle_file("tools", "oracle_weights.py").parent)
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import oracle_weights

    return oracle_weights


def state_dict(name: str, sub: str = "") -> dict[str, torch.Tensor]:
    """A config's oracle weights, rebuilt from its keys.txt and buffers.pt."""
    return weights_tools().regenerate_state_dict(str(oracle_file("models", f"{name}.keys.txt", sub=sub)),
                                                 str(oracle_file("models", f"{name}.buffers.pt", sub=sub)))


def save_checkpoint(name: str, path: Path) -> Path:
    """The oracle weights saved as a user would have an MMOCR 1.x checkpoint."""
    torch.save({"state_dict": state_dict(name), "meta": {}}, path)
    return path


def outputs(name: str, sub: str = "") -> dict:
    """A config's stored reference outputs (`raw`, `intermediate`, `pred`, ...)."""
    return torch.load(oracle_file("models", f"{name}.outputs.pt", sub=sub))


def det_input() -> torch.Tensor:
    """The (1, 3, 640, 640) input every detector's reference ran on."""
    return torch.load(oracle_file("models", "det_input_640.pt"))["inputs"]


def expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """{state_dict key: shape} of a config, as MMOCR names them."""
    expected = {}
    for line in oracle_file("models", f"{name}.keys.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape = line.split("\t")[:2]
            expected[key] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    return expected


def one_thread(fn, *args, **kwargs):
    """``fn(*args)`` under no_grad on one thread, the oracle's setting."""
    with one_torch_thread(), torch.no_grad():
        return fn(*args, **kwargs)


def run_oracle(name: str, model: torch.nn.Module) -> dict:
    """Strict-load the oracle weights, run det_input_640 once on one thread."""
    model.load_state_dict(state_dict(name), strict=True)
    model.eval()
    return {"name": name, "outputs": outputs(name), "raw": one_thread(model, det_input()), "model": model}


def every_core(fn, *args, **kwargs):
    """``fn(*args)`` under no_grad on a torch thread per core (the suite otherwise runs on one).
    For the float64 reference runs only: a thread count moves float64 sums by about 1e-16 of their
    magnitude, eleven orders under any allowance they set, and on two cores they take half as long."""
    with torch_threads_kept(), torch.no_grad():
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        return fn(*args, **kwargs)


def float64_run(model: torch.nn.Module, *inputs: torch.Tensor, **kwargs):
    """The same network and weights in float64, on every core (the model is left as it is)."""
    model64 = copy.deepcopy(model).double()
    return every_core(model64, *(x.double() for x in inputs), **kwargs)


# -- parity ----------------------------------------------------------------------------------

def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest difference relative to the reference tensor's largest magnitude.

    Element-by-element relative error means nothing on the near-zero elements of a feature map
    (a 1e-7 summation-order difference on a 1e-6 value is 10%), and the summation order of the
    convolutions changes with the CPU: outputs that were bit-identical to the oracle where these
    tests were written differ in the last bits on an AVX-512 AMD EPYC (2026-12-04; e.g. PSENet
    1.9e-4 absolute on logits up to 3.6, 5.1e-5 of the magnitude)."""
    ours, ref = torch.as_tensor(ours).double(), torch.as_tensor(ref).double()
    return float((ours - ref).abs().max()) / max(float(ref.abs().max()), 1e-30)


def abs_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((torch.as_tensor(ours).double() - torch.as_tensor(ref).double()).abs().max())


def allowance(own: float | None, cap: float = FLOOR) -> float:
    """How far (relative) our float32 output may be from the oracle's: FACTOR times our own
    float32 distance from float64 (``own``; None where not measured), at least FLOOR, never
    more than ``cap``."""
    if cap < FLOOR:
        raise ValueError(f"a cap ({cap:g}) below the floor ({FLOOR:g}) could never be met")
    return FLOOR if own is None else min(cap, max(FLOOR, FACTOR * own))


@dataclass(frozen=True)
class Parity:
    """One tensor's comparison with the oracle."""
    what: str
    error: float  # rel_err(ours, oracle)
    own: float | None  # rel_err(ours, our float64 run)
    allowed: float

    @property
    def ok(self) -> bool:
        return self.error <= self.allowed

    def __str__(self) -> str:
        own = "-" if self.own is None else f"{self.own:.3g}"
        return f"{self.what}: {self.error:.3g} off the oracle (own float32 error {own}, allowed {self.allowed:.3g})"


def compare(what: str, ours, ref, exact=None, cap: float = FLOOR) -> Parity:
    """``ours`` (float32) against the oracle's ``ref``; ``exact`` is our float64 run."""
    ours, ref = torch.as_tensor(ours), torch.as_tensor(ref)
    if ours.shape != ref.shape:
        return Parity(f"{what} (shape {tuple(ours.shape)} vs {tuple(ref.shape)})", float("inf"), None, 0.0)
    own = None if exact is None else rel_err(ours, exact)
    return Parity(what, rel_err(ours, ref), own, allowance(own, cap))


def mismatches(checks) -> list[Parity]:
    """The comparisons that exceed their allowance."""
    return [c for c in checks if not c.ok]


def assert_parity(*checks: Parity) -> None:
    bad = mismatches(checks)
    assert not bad, "; ".join(map(str, bad))


SERVED_CAP = 1e-3


def served_checks(run: dict, ref, cap: float = SERVED_CAP) -> list[Parity]:
    """The served build of a `run_oracle` detector (BatchNorm folded into the convolutions, as
    handlers.predictors.mmocr_det.load_torch_runner serves it) against the oracle's ``ref``.

    Folding rounds each scaled weight to float32 once and sums in another order, so the served
    output is another float32 rounding of the same function: its distance from our unfolded
    float32 run stands in for the float64 run as its own error, which spares a float64 run of each
    ResNet-50 detector (measured, DBNet++ prob map: 4.3e-4 from float64, 5.7e-4 from the unfolded
    run). The allowance is then the same rule, capped at SERVED_CAP (1e-3): PSENet's served build
    is 2.2e-4 off the oracle (1.9e-4 off our unfolded run, which is 8.8e-5 off the oracle), so the
    floor alone would refuse it; no served detector measured more than 5.1e-4.
    """
    from handlers.families.mmocr.fuse import fold_batchnorm
    from handlers.runtime import flatten_outputs

    served = copy.deepcopy(run["model"])
    assert fold_batchnorm(served) > 0
    got = flatten_outputs(one_thread(served, det_input()))
    return [compare(f"served output {i}", g, r, o, cap)
            for i, (g, o, r) in enumerate(zip(got, flatten_outputs(run["raw"]), flatten_outputs(ref), strict=True))]


# -- polygons --------------------------------------------------------------------------------

def match_polygons(ours: list[np.ndarray], theirs: list[np.ndarray], tol: float = 1.0
                   ) -> list[int]:
    """For each oracle polygon the index of ours whose vertices are all within ``tol`` px.

    Vertex order is compared up to a cyclic shift (OpenCV versions start
    ``boxPoints`` at different corners); same vertex count required; one-to-one.
    """
    ours = [np.asarray(p, np.float64).reshape(-1, 2) for p in ours]
    by_len: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for n in {len(p) for p in ours}:
        idx = np.array([i for i, p in enumerate(ours) if len(p) == n])
        by_len[n] = (idx, np.stack([ours[i] for i in idx]))
    result = []
    for poly in theirs:
        if len(poly) not in by_len:
            raise AssertionError(f"no polygon of ours has {len(poly)} vertices")
        idx, stack = by_len[len(poly)]
        # (shift, candidate): max vertex distance; best over cyclic shifts.
        d = np.stack([np.linalg.norm(np.roll(stack, k, axis=1) - poly[None], axis=2).max(1)
                      for k in range(len(poly))]).min(0)
        best = int(np.argmin(d))
        assert d[best] <= tol, (poly.tolist(), float(d[best]))
        result.append(int(idx[best]))
    assert sorted(result) == list(range(len(ours))), "polygons are not matched one-to-one"
    return result


def check_prediction(polygons, scores, pred, tol_px: float = 1.0, tol_score: float = 1e-4):
    """Our polygons and scores against the oracle's `pred` (matched as above)."""
    theirs = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pred["polygons"]]
    assert len(polygons) == len(theirs) == len(scores)
    index = match_polygons(polygons, theirs, tol_px)
    for i, j in enumerate(index):
        assert abs(float(scores[j]) - float(pred["scores"][i])) <= tol_score
    return index


def swap_weights(model: torch.nn.Module, first: str, second: str) -> None:
    """Exchange two same-shaped parameters in place (a wiring mistake a parity test must catch)."""
    params = dict(model.named_parameters())
    a, b = params[first], params[second]
    if a.shape != b.shape or torch.equal(a, b):
        raise ValueError(f"{first} and {second} cannot be swapped meaningfully")
    with torch.no_grad():
        tmp = a.detach().clone()
        a.copy_(b)
        b.copy_(tmp)
