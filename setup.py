"""Only what pyproject.toml cannot say: model_store/ (zoo.yaml and the weights trained for this
project) ships inside the wheel as package data of `ocrserve.model_store`, so an installed
ocrserve reads its zoo from site-packages/ocrserve/model_store/ (service/gateway/locations.py).
Archives (.mar), local.yaml and downloaded weights are never packaged."""
from pathlib import Path

from setuptools import find_packages, setup

# service/gateway/web/ (the gateway's page: html, js, css; no __init__.py) ships where it exists.
WEB = ["service.gateway.web"] if (Path(__file__).parent / "service" / "gateway" / "web").is_dir() else []

setup(
    packages=find_packages(include=["service", "service.*", "handlers", "handlers.*", "ocrserve", "ocrserve.*"])
    + ["ocrserve.model_store"] + WEB,
    package_dir={"ocrserve.model_store": "model_store"},
    package_data={"ocrserve.model_store": ["zoo.yaml", "weights/*/*"],
                  "service.gateway.web": ["*.html", "*.js", "*.css", "*.png", "*.svg"]},
    include_package_data=False,
)
