"""The contract between the TorchServe workers and the gateway: typed results and their JSON form.

Anyone may import this package (workers, gateway, tooling, the client); it imports only the
standard library and numpy, never torch or onnxruntime.
"""
