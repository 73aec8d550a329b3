"""The gateway: FastAPI app, routes, pipeline, TorchServe backend and client, settings, errors,
schemas, documents, jobs, the web page and the zoo catalogue.

May import: itself, handlers.api and handlers.ops (pure); never torch or onnxruntime, never the
tooling (models in the caller's process are service.tooling.local_backend). Imported by the
tooling and the client."""
