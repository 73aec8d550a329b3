"""Model families: each network and its pre/post-processing (the predictor a handler calls).

Runs inside the TorchServe workers (and the in-process backend); the one table of families is
handlers/registry.py. Imports torch, onnxruntime or tesserocr as each family needs.
"""
