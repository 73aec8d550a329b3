"""Latency of the full-size Bert-Softmax NER tagger (12 x 768, MMOCR's bert_softmax_cluener_18e)
as served (NERTagger: batches padded to their longest text), on CPU threads.

Weights do not change the time, so the network is built with its initial weights and the
vocab is the CJK block: nothing from ../shared is needed.

    PYTHONPATH=. .venv/bin/python bench/ner_latency.py [--threads 1] [--repeats 3]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from handlers.families.ner.bert import build_ner
    from handlers.predictors.bert_ner import NERConfig, NERTagger
    from handlers.runtime import TorchRunner

    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 20000)]
    vocab = {c: 198 + i for i, c in enumerate(chars)}
    tagger = NERTagger(TorchRunner(build_ner(), threads=args.threads), NERConfig("bert_softmax_cluener_18e"), vocab)
    rng = random.Random(0)
    print(f"threads {args.threads}, median of {args.repeats}")
    print("| chars per text | texts per call | ms per call | ms per text |")
    print("|---|---|---|---|")
    for length in (16, 40, 126):
        for batch in (1, 16):
            texts = ["".join(rng.choices(chars, k=length)) for _ in range(batch)]
            tagger(texts)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                tagger(texts)
                times.append((time.perf_counter() - start) * 1000)
            ms = statistics.median(times)
            print(f"| {length} | {batch} | {ms:.0f} | {ms / batch:.1f} |", flush=True)


if __name__ == "__main__":
    main()
