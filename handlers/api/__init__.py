"""The contract shared by the TorchServe workers and the gateway: errors, codecs, option bounds,
worker settings. Imports only the standard library and numpy; anyone may import it."""
