# Two commands do everything on a fresh machine: `make run` and `make test`.
.PHONY: setup run test bench eval clean

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/ocrserve run

test: setup
	@.venv/bin/python -m pytest

bench: setup
	@.venv/bin/ocrserve bench

eval: setup
	@.venv/bin/ocrserve eval

clean:
	rm -rf run model_store/*.mar model_store/.*.fingerprint
