"""`ocrserve run`: device choice, TorchServe's process, its supervisor, the gateway server."""
