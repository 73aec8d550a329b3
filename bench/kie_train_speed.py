"""CPU time of SDMG-R training steps: the model code of this tree against that of an earlier commit.

Both models start from the same seeded weights and take the same batches (the first shuffled
batches of an annotation file, one torch thread), old and new steps interleaved so that a busy
machine slows both alike; prints the CPU seconds, the estimate per epoch and how far the losses
of the two drift apart (float summation order only, when the maths are the same).

    .venv/bin/python bench/kie_train_speed.py --ann /tmp/kie_real/train.txt [--old 8b88a1b] [--steps 40]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import torch

from service.tooling.training.kie.dataset import read_annotations
from service.tooling.training.kie.train import TrainOptions, new_model, train_step

ROOT = Path(__file__).resolve().parents[1]
MODULE = "handlers/families/kie/sdmgr.py"


def old_sdmgr(commit: str) -> types.ModuleType:
    """handlers/families/kie/sdmgr.py as it was at ``commit`` (its own imports come from this tree)."""
    source = subprocess.check_output(["git", "show", f"{commit}:{MODULE}"], cwd=ROOT, text=True)
    module = types.ModuleType(f"sdmgr_{commit}")
    exec(compile(source, f"{commit}:{MODULE}", "exec"), module.__dict__)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ann", type=Path, required=True, help="WildReceipt-format training annotations")
    parser.add_argument("--old", default="8b88a1b", help="commit whose SDMG-R code is the baseline")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    if not args.ann.is_file():
        print(f"no annotations at {args.ann}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # as train kie does
    docs = read_annotations(args.ann, num_classes=26)
    order = torch.randperm(len(docs), generator=torch.Generator().manual_seed(0)).tolist()
    new = new_model(TrainOptions(seed=0), 26)
    module = old_sdmgr(args.old)
    old = module.SDMGR({**module.DEFAULT_CFGS["sdmgr_novisual_60e_wildreceipt"]["head"], "num_classes": 26},
                       dictionary=new.kie_head.dictionary)
    old.load_state_dict(new.state_dict(), strict=True)
    runs = {name: (model.train(), torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4))
            for name, model in ((f"old ({args.old})", old), ("this tree", new))}
    seconds = {name: 0.0 for name in runs}
    losses: dict[str, list[float]] = {name: [] for name in runs}
    steps = min(args.steps, len(docs) // args.batch_size)
    for step in range(steps):
        batch = [docs[i] for i in order[step * args.batch_size:(step + 1) * args.batch_size]]
        for name in (list(runs) if step % 2 else list(runs)[::-1]):
            model, optimizer = runs[name]
            start = time.process_time()
            losses[name].append(train_step(model, optimizer, batch)["loss"])
            seconds[name] += time.process_time() - start
    per_epoch = len(docs) / args.batch_size / steps
    print(f"{steps} training steps of {args.batch_size} receipts from {args.ann} ({len(docs)} receipts), one thread\n")
    print("| model code | CPU s | CPU s per epoch (estimate) | loss after the last step |")
    print("|---|---|---|---|")
    for name in runs:
        print(f"| {name} | {seconds[name]:.2f} | {seconds[name] * per_epoch:.0f} | {losses[name][-1]:.6f} |")
    a, b = losses.values()
    first, second = seconds.values()
    print(f"\nspeed-up {first / max(second, 1e-9):.2f}x; largest loss difference over the steps "
          f"{max(abs(x - y) for x, y in zip(a, b)):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
