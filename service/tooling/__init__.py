"""Tooling around the service: the `ocrserve` CLI, packaging (zoo weights, archives, ONNX
export), the launcher, evaluation, training and synthetic data. May import anything; nothing
in the gateway or the workers imports it."""
