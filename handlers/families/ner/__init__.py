"""Named entity recognition (MMOCR 0.x ``NerClassifier``: BERT encoder + FC decoder, BIO tags).

``bert.py`` is the network with MMOCR 0.x key names; ``convertor.py`` the pure text <-> ids <->
entities conversions of MMOCR's ``NerConvertor``; ``metrics.py`` entity-level P/R/F1. Importable
without TorchServe; only ``bert.py`` needs torch."""
