"""Everything outside the TorchServe workers: `service.gateway` (the HTTP service) and
`service.tooling` (CLI, packaging, launcher, evaluation, training, data generators)."""
