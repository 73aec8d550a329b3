"""Weights and archives: fetch and verify zoo weights, build TorchServe .mar files."""
