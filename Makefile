# Two commands do everything on a fresh machine: `make run` and `make test`.
.PHONY: setup run test bench eval clean images-test

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/ocrserve run

# Two worker processes, a test module to each at a time (module fixtures built once); integration
# modules start a TorchServe per worker. TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= 2
test: setup
	@.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadscope

# Build the gateway, CPU and both GPU images; run the CPU stack with docker run and with compose.host.yaml, and
# each GPU image on the CPU (root; 18-40 min; docker/images.py, tests/deploy/test_images.py).
images-test: setup
	@OCRSERVE_IMAGES_TEST=1 .venv/bin/python -m pytest tests/deploy/test_images.py

bench: setup
	@.venv/bin/ocrserve bench

eval: setup
	@.venv/bin/ocrserve eval

clean:
	rm -rf run model_store/*.mar model_store/.*.fingerprint
