"""Every call written in README.md's code blocks, and how the suite runs it.

A *call* is one shell command of a ```sh / ```bash block (continuation lines joined, comment lines and
trailing comments dropped) or one whole ```python block; ```json / ```yaml blocks are answers and
configs, not calls. Each call is either
  * run by tests/integration/test_readme_calls.py against the session's real gateway and TorchServe,
    with the README's placeholders made real: the host/ports of the test servers, files from
    ../shared/data under the README's names (`photo.jpg`, `scan.pdf`, ...), the job id a block got;
  * RUN_BY: run (as written) by another named test, because it needs servers of its own;
  * NOT_RUN: cannot run in the suite, with the reason.
tests/test_documented_calls.py fails for a README call that is in none of these (and for an entry
here that the README no longer has), so a new call in the README comes with a way to run it.
docs/*.md calls are held to the same rule: run when cheap (DOCS_RUN), else DOCS_NOT_RUN gives the reason per kind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHELL = ("sh", "bash", "shell", "console")

#: What test_readme_calls knows how to run: curl to the gateway/TorchServe, and `ocrserve ocr` (also fed by a pipe).
RUNNABLE = re.compile(r"^(curl |(cat \S+ \| )?\.venv/bin/ocrserve ocr )")
#: The hosts the README's calls may name; test_readme_calls points each at the test server behind it.
HOSTS = ("http://127.0.0.1:8000", "localhost:8000", "http://127.0.0.1:8080", "http://127.0.0.1:8081",
         "http://127.0.0.1:8082")
#: The files and folders the README's calls name, made by test_readme_calls's `workspace` fixture.
WORKSPACE = ("photo.jpg", "receipt.jpg", "page.png", "word.png", "w1.png", "w2.png", "scan.pdf", "report.pdf",
             "fax.tif", "scans/", "imgs/", "demo/demo_text_ocr.jpg", "demo/demo_kie.jpeg", "wildreceipt/train.txt")
#: Names the README's Python snippets leave for the reader to fill in, with the values the test gives them.
PYTHON_PLACEHOLDERS = {"x1": 550, "y1": 104, "x2": 937, "y2": 190, "image_bytes": "the bytes of photo.jpg"}

#: Calls another test runs; the value is that test's node id (checked to exist).
RUN_BY = {
    ".venv/bin/ocrserve ocr receipt.jpg --kie sdmgr --local":
        "tests/integration/test_cli_ocr.py::test_local_kie_run_reads_like_the_gateway",
}

_NEEDS_CHECKPOINT = ("needs an MMOCR checkpoint (none ships in ../shared/data); "
                     "tests/integration/test_checkpoint_model.py archives and serves one it makes")
#: Calls the suite cannot run, with the reason.
NOT_RUN = {
    "make run": "starts the whole stack on the fixed ports 8000/8080-8082 (the suite's servers use free ports; "
                "tests/integration/test_run_command.py runs `ocrserve run`)",
    "make test": "is the suite itself",
    "export OCRSERVE_ADMIN_KEY=$(openssl rand -hex 16)": "the key is fixed when the gateway starts; the block runs "
                                                         "with the test gateway's key in $OCRSERVE_ADMIN_KEY",
    "KEY=$(python3 -c 'import json; print(json.load(open(\"run/torchserve/key_file.json\"))[\"inference\"][\"key\"])')":
        "needs a TorchServe started with token authorization by `make run`; the session TorchServe runs without "
        "(tests/integration/test_token_auth.py starts one with keys)",
    "curl -H \"Authorization: Bearer $KEY\" -T photo.jpg http://127.0.0.1:8080/predictions/dbnet":
        "needs the key of the call above",
    ".venv/bin/ocrserve archive --arch dbnet_resnet18_fpnc_1200e_icdar2015 --checkpoint epoch_1200.pth --name mydet":
        _NEEDS_CHECKPOINT,
    "curl -X POST -H \"Authorization: Bearer $OCRSERVE_ADMIN_KEY\" http://127.0.0.1:8000/models/mydet":
        "needs mydet archived (above)",
    "curl -F file=@photo.jpg \"http://127.0.0.1:8000/ocr?det=mydet\"": "needs mydet loaded (above)",
    ".venv/bin/ocrserve export-onnx --arch dbnet_resnet18_fpnc_1200e_icdar2015 --checkpoint epoch_1200.pth "
    "--out mydet.onnx --verify": _NEEDS_CHECKPOINT,
    ".venv/bin/ocrserve archive --arch dbnet_resnet18_fpnc_1200e_icdar2015 --checkpoint mydet.onnx --name mydet-onnx":
        "needs the ONNX export above",
    ".venv/bin/python bench/kie_prepare_real.py --out /tmp/kie_real": "a benchmark (bench/, minutes), not a test",
    ".venv/bin/python bench/kie_real_receipts.py --ann /tmp/kie_real/wild_test.txt --sroie "
    "../shared/data/sroie2019_train [--checkpoint OTHER/sdmgr.pth]": "a benchmark (bench/, minutes), not a test",
    ".venv/bin/python bench/kie_real_receipts.py --ann /tmp/kie_real/wild_test.txt --sroie "
    "../shared/data/sroie2019_train --sroie-part test --unit line --unit segment --unit word --no-gt":
        "a benchmark (bench/, minutes), not a test",
    ".venv/bin/python bench/det_ic15_split.py --out /tmp/ic15_lists": "writes the training / dev lists of a "
    "benchmark's split of ../shared/data (tests/service/tooling/training/det covers the split's use)",
    ".venv/bin/python bench/det_ic15_split.py --out /tmp/ic15_more --test-share 0.5": "writes the lists of the "
    "same split with half of part test trained on (tests/service/tooling/training/det covers the split's use)",
    ".venv/bin/ocrserve train det --data ../shared/data/icdar2015_train --list /tmp/ic15_more/train.txt "
    "--out /tmp/det_runs/ic15more --steps 600 --batch-size 8 --size 512 --freeze 0.3 --lr 5e-5 --warmup 30 --save-every 50":
        "trains for about an hour; tests/service/tooling/training/det/test_cli.py runs `train det` for 2 steps",
    ".venv/bin/ocrserve train det --data ../shared/data/icdar2015_train --list /tmp/ic15_more/train.txt "
    "--out /tmp/det_runs/ic15more_blend --export-only /tmp/det_runs/ic15more/step00600.pt --blend 0.5":
        "needs the checkpoint of the training call above; tests/service/tooling/training/det/test_cli.py exports a "
        "blend, tests/service/tooling/training/det/test_ic15_model.py checks the committed one",
    ".venv/bin/ocrserve train det --arch dbnet_resnet18_fpnc_1200e_icdar2015 --checkpoint epoch_1200.pth "
    "--data my_photos --out runs/mydet --steps 500 --batch-size 2 --size 640":
        "needs the reader's MMOCR checkpoint and photos, and trains for hours; "
        "tests/service/tooling/training/det/test_native.py runs `train det --arch` for 6 steps on an oracle checkpoint",
    ".venv/bin/ocrserve archive --arch dbnet_resnet18_fpnc_1200e_icdar2015 --checkpoint runs/mydet/model.pth "
    "--name mydet": "needs runs/mydet from the call above; test_native.py loads such a model.pth strictly "
                    "through the registry, tests/integration/test_checkpoint_model.py archives and serves a checkpoint",
    ".venv/bin/ocrserve train rec --arch crnn_mini-vgg_5e_mj --checkpoint crnn.pth --data my_crops/label.txt "
    "--iterations 450 --out runs/myrec": "needs the reader's MMOCR checkpoint and crops (tens of minutes); "
    "tests/service/tooling/training/rec/test_native.py runs `train rec --arch` on an oracle checkpoint",
    ".venv/bin/ocrserve train rec --data my_crops/label.txt --dev my_dev/label.txt --replay old_domain/label.txt "
    "--iterations 450 --out runs/rec": "trains on the reader's crops (tens of minutes); "
    "tests/service/tooling/training/rec/test_finetune.py runs `train rec` on ../shared/data's toy sets",
    ".venv/bin/python bench/rec_finetune.py prepare --work /tmp/rec_ft2": "writes word crops of a benchmark's "
    "split of ../shared/data (tests/service/tooling/training/det/test_ic15_model.py checks the model trained on them)",
    ".venv/bin/ocrserve train rec --data /tmp/rec_ft2/ic15_det_train/label.txt --dev /tmp/rec_ft2/ic15_det_dev/label.txt "
    "--replay /tmp/rec_ft2/replay_wildreceipt/label.txt --replay-limit 800 --out /tmp/rec_ft2/runA "
    "--iterations 400 --eval-every 50 --lr 1e-4 --seed 0 --threads 1": "trains for 14 minutes on the crops of the "
    "call above; tests/service/tooling/training/rec/test_finetune.py runs `train rec` on ../shared/data's toy sets",
    ".venv/bin/python -m bench.reliability": "a benchmark: the soak alone lasts 20 minutes",
    ".venv/bin/python -m bench.reliability --soak-s 240 --overload-s 45": "a benchmark (8+ minutes)",
    ".venv/bin/python -m bench.reliability --parts corpus access": "a benchmark (minutes)",
}

_DATA = "reads a dataset from data/ (the reader's download; ../shared/data holds other subsets), minutes"
#: docs/*.md: every call not in DOCS_RUN matches one of these (doc, pattern, reason)
#: (each needs a checkpoint or dataset of the reader's, trains, or serves the model such a call made).
DOCS_NOT_RUN = (
    ("datasets.md", r"^\.venv/bin/ocrserve (eval --data|dataset convert) data/", _DATA),
    ("datasets.md", r"^\.venv/bin/ocrserve dataset convert \.\./shared/data/icdar2015_train ",
     "cuts every word of 1000 photos (minutes); tests/service/tooling/evaluation/test_dataset_formats.py converts to crops"),
    ("detectors.md", r"^\.venv/bin/ocrserve archive .*--checkpoint (panet|mask)\.pth", _NEEDS_CHECKPOINT),
    ("detectors.md", r"^curl .*mypan", "needs mypan, archived from the reader's checkpoint above"),
    ("kie-training.md", r"^\.venv/bin/ocrserve train kie", "trains or evaluates on the reader's receipts (minutes)"),
    ("kie.md", r"^\.venv/bin/ocrserve (archive|run) ", "archives the reader's SDMG-R checkpoint and serves it on "
                                                       "the fixed ports"),
    ("kie.md", r"^curl .*mykie", "needs mykie, archived and served above"),
    ("ner.md", r"^\.venv/bin/ocrserve (archive|train) ", "archives a checkpoint of the reader's, or trains (minutes)"),
    ("ner.md", r"^curl .*(models/ner|model=ner|ner=ner)", "needs the ner model archived above"),
    ("onnx-export-rec.md", r"^(\.venv/bin/ocrserve (export-onnx|archive) |from pathlib import Path)",
     _NEEDS_CHECKPOINT + " (a recogniser's); tests/test_documented_calls.py checks the snippet's names"),
    ("onnx-export.md", r"^\.venv/bin/ocrserve (export-onnx|archive) ", _NEEDS_CHECKPOINT),
)

#: docs/*.md calls cheap enough for the suite: test_readme_calls runs them as it runs the README's (doc, pattern).
DOCS_RUN = (("datasets.md", r"--from wildreceipt --to wildreceipt-openset$"),)


def docs_run(doc: str, call: str) -> bool:
    """Whether test_readme_calls runs this docs/ call."""
    return any(name == doc and re.search(pattern, call) for name, pattern in DOCS_RUN)


def docs_reason(doc: str, call: str) -> str | None:
    """Why a docs/ call is not run in the suite, or None when no rule covers it."""
    return next((why for name, pattern, why in DOCS_NOT_RUN if name == doc and re.search(pattern, call)), None)


@dataclass(frozen=True)
class Block:
    """One code block of a Markdown file: its language, first line number and calls in order."""

    doc: str
    line: int
    lang: str
    calls: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _drop_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # outside quotes, after a space)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def shell_calls(block: str) -> list[str]:
    """The commands of a shell block, continuation lines joined, comments dropped."""
    calls, pending = [], ""
    for raw in block.splitlines():
        line = _drop_comment(raw)
        if not pending and not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        calls.append(re.sub(r"\s+", " ", (pending + line.strip()).strip()))
        pending = ""
    if pending.strip():
        calls.append(pending.strip())
    return [c for c in calls if c]


def blocks(path: Path = README) -> list[Block]:
    """The code blocks of a Markdown file that hold calls (shell and python)."""
    text = path.read_text()
    found = []
    for match in re.finditer(r"^```([^\n]*)\n(.*?)^```", text, flags=re.S | re.M):
        lang = match.group(1).strip().lower()
        line = text.count("\n", 0, match.start()) + 1
        if lang in SHELL:
            calls = tuple(shell_calls(match.group(2)))
        elif lang == "python":
            calls = (match.group(2).strip(),)
        else:
            continue
        if calls:
            found.append(Block(path.name, line, lang, calls))
    return found


def inputs(call: str) -> list[str]:
    """The local files a shell call reads: `@file` uploads, `-T file`, `cat file`, `ocrserve ocr` arguments."""
    named = re.findall(r"[=\s]@([^\s'\"]+)|(?:-T|cat) (\S+)", call)
    found = [a or b for a, b in named]
    ocr = re.search(r"ocrserve ocr (.*)", call)
    if ocr:
        words = ocr.group(1).split()
        takes_value = {"--out", "--format", "--jobs", "--det", "--rec", "--kie", "--url"}
        found += [w for i, w in enumerate(words)
                  if w != "-" and not w.startswith("-") and (i == 0 or words[i - 1] not in takes_value)]
    return found


def python_strings(snippet: str) -> list[str]:
    """The string constants a snippet passes as paths (the ones naming files in WORKSPACE style)."""
    return re.findall(r"[\"']([\w./-]+\.(?:jpg|jpeg|png|pdf|tif)|[\w-]+/)[\"']", snippet)


def excused(call: str) -> str | None:
    """Why `call` is not run by test_readme_calls (another test runs it, or the suite cannot), or None."""
    if call in RUN_BY:
        return f"run by {RUN_BY[call]}"
    return NOT_RUN.get(call)
