"""Only what pyproject.toml cannot say: model_store/ (zoo.yaml and the weights trained for this
project) ships inside the wheel as package data of `ocrserve.model_store`, so an installed
ocrserve reads its zoo from site-packages/ocrserve/model_store/ (service/locations.py).
Archives (.mar), local.yaml and downloaded weights are never packaged."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["service", "service.*", "handlers", "handlers.*", "ocrserve", "ocrserve.*"])
    + ["ocrserve.model_store"],
    package_dir={"ocrserve.model_store": "model_store"},
    package_data={"ocrserve.model_store": ["zoo.yaml", "weights/*/*"]},
    include_package_data=False,
)
