"""Models whose files come from Debian packages (Tesseract) are optional: skipped, never a failure."""
from __future__ import annotations

import yaml

from service.tooling.cli import main
from service.gateway.zoo import load_zoo


def _zoo_with_missing_tesseract(tmp_path, zoo):
    entry = zoo.get("tesseract-rec").model_dump(exclude={"name"}, mode="json")
    entry["weights"]["path"] = str(tmp_path / "not-installed" / "eng.traineddata")
    path = tmp_path / "zoo.yaml"
    path.write_text(yaml.safe_dump({"defaults": {}, "models": {"tesseract-rec": entry}}))
    return path


def test_missing_debian_files_are_skipped_by_weights_and_archive_all(tmp_path, zoo, capsys):
    path = _zoo_with_missing_tesseract(tmp_path, zoo)
    assert not load_zoo(path).get("tesseract-rec").installed()
    assert main(["--zoo", str(path), "weights"]) == 0
    assert "skipped tesseract-rec" in capsys.readouterr().out
    assert main(["--zoo", str(path), "archive", "--all", "--store", str(tmp_path / "store")]) == 0
    assert not (tmp_path / "store" / "tesseract-rec.mar").exists()
    # named explicitly, it fails with the way to install it
    assert main(["--zoo", str(path), "archive", "tesseract-rec", "--store", str(tmp_path / "store")]) == 1
    assert "setup_tesseract.sh" in capsys.readouterr().err


def test_tesseract_models_are_in_the_zoo_but_never_defaults(zoo):
    assert {"tesseract-det", "tesseract-rec"} <= set(zoo.names())
    assert not {"tesseract-det", "tesseract-rec"} & set(zoo.default_names())
    assert zoo.get("tesseract-det").task == "det" and zoo.get("tesseract-rec").task == "rec"
