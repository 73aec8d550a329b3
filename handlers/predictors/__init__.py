"""Predictors: one module per registry family wrapping its network in pre/post-processing.

Runs in the TorchServe workers and the in-process backend; imports handlers.* only."""
