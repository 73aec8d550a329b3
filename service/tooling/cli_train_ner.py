"""`ocrserve train ner`: train the Bert-Softmax tagger on CLUENER json-lines (MMOCR's NER format)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path



def add_command(kinds: argparse._SubParsersAction) -> None:
    ner = kinds.add_parser("ner", help="train Bert-Softmax NER on CLUENER json-lines "
                           "(a useful model needs a pretrained BERT: --init, see docs/ner.md)")
    ner.add_argument("--data", type=Path, help="training samples (CLUENER json-lines)")
    ner.add_argument("--val", type=Path, default=None, help="labelled samples for P/R/F1 after training")
    ner.add_argument("--synthetic", type=int, default=0, metavar="N",
                     help="train on N generated sentences instead of --data (a smoke test)")
    ner.add_argument("--out", type=Path, required=True, help="output folder (ner.pth, vocab.txt, report.json)")
    ner.add_argument("--vocab", type=Path, default=None, help="BERT vocab file (default: built from the data)")
    ner.add_argument("--init", type=Path, default=None,
                     help="start the encoder from this MMOCR-layout checkpoint (converted pretrained BERT)")
    # the default is read when the command runs: the client-only install has no handlers stack
    ner.add_argument("--categories", default=None, help="comma-separated entity types (default: CLUENER's 10)")
    ner.add_argument("--layers", type=int, default=12)
    ner.add_argument("--hidden", type=int, default=768)
    ner.add_argument("--heads", type=int, default=12)
    ner.add_argument("--intermediate", type=int, default=3072)
    ner.add_argument("--epochs", type=int, default=3)
    ner.add_argument("--batch-size", type=int, default=16)
    ner.add_argument("--lr", type=float, default=5e-5)
    ner.add_argument("--seed", type=int, default=0)
    ner.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, like the workers)")
    ner.set_defaults(func=run_train_ner)
    conv = kinds.add_parser("ner-convert-hf", help="Hugging Face BERT pytorch_model.bin -> MMOCR NER keys (for --init)")
    conv.add_argument("source", type=Path)
    conv.add_argument("target", type=Path)
    conv.set_defaults(func=run_convert_hf)


def run_convert_hf(args: argparse.Namespace) -> int:
    from service.tooling.training.ner.hf_convert import convert_file

    if not args.source.is_file():
        print(f"train ner-convert-hf: {args.source} does not exist", file=sys.stderr)
        return 2
    print(f"train ner-convert-hf: {convert_file(args.source, args.target)} tensors -> {args.target}")
    return 0


def _samples(args: argparse.Namespace):
    from service.tooling.training.ner.data import read_cluener
    from service.tooling.training.ner.synthetic import corpus

    if args.synthetic:
        return corpus(args.synthetic, args.seed), (corpus(max(args.synthetic // 4, 1), args.seed + 1)
                                                   if args.val is None else read_cluener(args.val))
    if args.data is None or not args.data.is_file():
        raise ValueError("give --data FILE (CLUENER json-lines) or --synthetic N")
    return read_cluener(args.data), (read_cluener(args.val) if args.val else [])


def run_train_ner(args: argparse.Namespace) -> int:
    import shutil

    import torch

    from handlers.families.ner.convertor import read_vocab
    from service.tooling.training.ner.data import build_vocab
    from handlers.families.ner.bert import CLUENER_CATEGORIES
    from service.tooling.training.ner.train import TrainOptions, evaluate, new_model, save_checkpoint, train

    try:
        train_set, val_set = _samples(args)
        if args.init is not None and args.vocab is None:
            raise ValueError("--init needs the --vocab its BERT was trained with")
        opts = TrainOptions(layers=args.layers, hidden=args.hidden, heads=args.heads,
                            intermediate=args.intermediate, epochs=args.epochs, batch_size=args.batch_size,
                            lr=args.lr, seed=args.seed,
                            categories=tuple(c.strip() for c in (args.categories or ",".join(CLUENER_CATEGORIES))
                                             .split(",") if c.strip()))
    except ValueError as exc:
        print(f"train ner: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    vocab_file = args.out / "vocab.txt"
    if args.vocab:
        shutil.copyfile(args.vocab, vocab_file)
    else:
        build_vocab(train_set + val_set, vocab_file)
    vocab = read_vocab(vocab_file)
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    model = new_model(opts, max(vocab.values()) + 1, args.init)
    print(f"train ner: {len(train_set)} training / {len(val_set)} validation texts, {len(vocab)} tokens, "
          f"{opts.layers} x {opts.hidden} ({opts.heads} heads), categories {', '.join(opts.categories)}", flush=True)
    start = time.perf_counter()
    train(model, train_set, vocab, opts, log=lambda e, loss: print(f"epoch {e:3d}  loss {loss:.4f}", flush=True))
    report = {"seconds": round(time.perf_counter() - start, 1), "train_texts": len(train_set)}
    if val_set:
        report["val"] = evaluate(model, val_set, vocab, opts).to_json()
        print(f"train ner: validation P {report['val']['precision']:.4f}  R {report['val']['recall']:.4f}  "
              f"F1 {report['val']['f1']:.4f}")
    path = save_checkpoint(model, opts, args.out / "ner.pth", {"report": report})
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"train ner: saved {path} and {vocab_file} after {report['seconds']} s")
    return 0
