"""The contract shared by the TorchServe workers, the gateway and the client: typed results and
their JSON form, the archive spec, errors, codecs, option bounds, limits and worker settings.

Anyone may import this package; it imports only the standard library and numpy, never torch or
onnxruntime.
"""
