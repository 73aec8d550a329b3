"""Pure parts of the client: line merging, MMOCR names, inputs, errors, retry waits, CLI helpers."""
from __future__ import annotations

import inspect
import io
import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
from PIL import Image

from ocrserve.cli_ocr import collect_inputs, render
from ocrserve.errors import RequestRejected, ServerError, error_for
from ocrserve.inputs import to_upload
from ocrserve.line_merge import merge_lines
from ocrserve.mmocr_names import MMOCR_ARCHS, UnknownModel, resolve
from ocrserve.progress import Progress, track


def _word(x0, y0, x1, y1, text):
    return {"box": [x0, y0, x1, y0, x1, y1, x0, y1], "text": text}


def test_merge_joins_close_words_of_one_line_only():
    words = [_word(60, 10, 100, 30, "world"), _word(0, 12, 50, 31, "hello"), _word(0, 60, 40, 80, "next"),
             _word(300, 10, 340, 30, "far")]
    merged = merge_lines(words, max_x_dist=20)
    assert sorted(m["text"] for m in merged) == ["far", "hello world", "next"]
    hello = next(m for m in merged if m["text"] == "hello world")
    assert hello["box"] == [0, 10, 100, 10, 100, 31, 0, 31]  # clockwise from top-left around both
    assert len(merge_lines(words, max_x_dist=5)) == 4  # a 10 px gap stays apart at 5 px


def test_merge_needs_half_the_shorter_height_overlapping():
    assert len(merge_lines([_word(0, 0, 10, 20, "a"), _word(12, 9, 20, 29, "b")])) == 1  # 11/20 overlap
    assert len(merge_lines([_word(0, 0, 10, 20, "a"), _word(12, 11, 20, 31, "b")])) == 2  # 9/20


def test_mmocr_names_resolve_through_the_arch_of_a_zoo_entry():
    models = {"dbnet": ("det", None), "mydb": ("det", "dbnet_resnet18_fpnc_1200e_icdar2015"),
              "sdmgr": ("kie", "sdmgr_novisual_60e_wildreceipt")}
    assert resolve("DB_r18", "det", models) == "mydb"
    assert resolve("dbnet", "det", models) == "dbnet"
    assert resolve("SDMGR", "kie", models) == "sdmgr"
    assert resolve("someone-elses", "det", models) == "someone-elses"  # the service decides
    with pytest.raises(UnknownModel, match="--arch panet_resnet18_fpem-ffm_600e_icdar2015"):
        resolve("PANet_IC15", "det", models)
    with pytest.raises(UnknownModel, match="dbnet, mydb"):
        resolve("MaskRCNN_IC17", "det", models)
    assert set(MMOCR_ARCHS["det"]) >= {"DB_r18", "DBPP_r50", "PANet_IC15", "TextSnake"}
    assert set(MMOCR_ARCHS["rec"]) >= {"CRNN", "SAR", "ABINet", "SATRN", "MASTER"}


def test_uploads_of_every_image_kind(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    path = tmp_path / "red.png"
    Image.fromarray(rgb).save(path)
    assert to_upload(path) == ("red.png", path.read_bytes())
    assert to_upload(str(path))[1] == path.read_bytes()
    assert to_upload(b"abc") == ("image", b"abc")
    for sent, order in ((rgb, "RGB"), (rgb[..., ::-1].copy(), "BGR"), (Image.fromarray(rgb), "RGB")):
        decoded = np.asarray(Image.open(io.BytesIO(to_upload(sent, order)[1])))
        assert decoded[0, 0].tolist() == [255, 0, 0]
    with pytest.raises(TypeError, match="uint8"):
        to_upload(rgb.astype(np.float32))
    with pytest.raises(TypeError):
        to_upload(3.5)


def test_errors_keep_the_servers_words_by_family():
    err = error_for(404, {"error": "ModelNotFound", "status": 404, "message": "unknown det model 'x'"}, "")
    assert isinstance(err, RequestRejected) and err.message == "unknown det model 'x'" and err.status == 404
    assert isinstance(error_for(503, {"message": "not loaded"}, ""), ServerError)
    assert error_for(502, None, "Bad Gateway").message == "Bad Gateway"


def test_retry_waits_double_and_respect_retry_after():
    from ocrserve.client import Retry

    retry = Retry(attempts=4, backoff_s=0.5, max_wait_s=1.5)
    busy = httpx.Response(503)
    assert [retry.wait(i, busy) for i in range(4)] == [0.5, 1.0, 1.5, None]
    assert retry.wait(0, httpx.Response(503, headers={"Retry-After": "1.2"})) == 1.2
    assert retry.wait(0, httpx.Response(500)) is None and retry.wait(0, httpx.Response(200)) is None


def test_cli_inputs_walk_folders_and_keep_sub_folders(tmp_path):
    (tmp_path / "scans" / "a").mkdir(parents=True)
    for rel in ("scans/p1.jpg", "scans/a/p2.PNG", "scans/notes.txt"):
        (tmp_path / rel).write_bytes(b"x")
    inputs = collect_inputs([str(tmp_path / "scans"), "-", str(tmp_path / "missing.jpg")])
    assert [i.name for i in inputs] == ["scans/a/p2", "scans/p1", "stdin", "missing"]


def test_cli_render_formats():
    answer = {"pages": [{"page": 1, "width": 9, "height": 9, "result": [
        {"box": [0, 0, 4, 0, 4, 2, 0, 2], "box_score": 0.9, "text": "HELLO", "text_score": 0.8}]}],
        "models": {}, "timings_ms": {}}
    assert render(answer, "text") == "HELLO\n"
    assert render(answer, "tsv").splitlines()[1] == "1\t0,0,4,0,4,2,0,2\t0.9000\tHELLO\t0.8\t"
    assert json.loads(render(answer, "json")) == answer


def test_progress_prints_plain_lines_when_piped():
    out = io.StringIO()
    with Progress(2, "ocr", stream=out) as progress:
        progress.done("a.jpg", note="3 lines")
        progress.done("b.jpg", ok=False, note="400 BadImage: not an image")
    assert out.getvalue().splitlines() == ["ocr: ok a.jpg: 3 lines", "ocr: FAILED b.jpg: 400 BadImage: not an image"]


def test_track_is_silent_when_piped_for_evaluation_and_one_line_per_item_otherwise():
    out = io.StringIO()
    assert list(track([1, 2, 3], "det", unit="img", lines=False, stream=out)) == [1, 2, 3]
    assert out.getvalue() == ""  # evaluation prints its report only
    assert list(track(["a", "b"], "ocr", stream=out)) == ["a", "b"]
    assert out.getvalue().splitlines() == ["ocr: ok a", "ocr: ok b"]


def test_evaluation_uses_the_one_progress_helper():
    import service.tooling.evaluation.dataset_eval
    import service.tooling.evaluation.evaluation

    for module in (service.tooling.evaluation.evaluation, service.tooling.evaluation.dataset_eval):
        assert module.track is track and "tqdm" not in inspect.getsource(module)


def test_client_imports_no_server_stack():
    code = ("import sys, ocrserve, ocrserve.mmocr_compat, ocrserve.cli_ocr, service.tooling.cli;"
            "print(sorted(m for m in ('torch', 'onnxruntime', 'ts', 'fastapi', 'cv2', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_progress_bar_on_a_terminal_still_reports_failures(capsys):
    out = io.StringIO()
    with Progress(2, "ocr", stream=out, bar=True) as progress:
        progress.done("a.jpg")
        progress.done("b.jpg", ok=False, note="415 UnsupportedMediaType")
        progress.log("archive: x -> y")
    text = out.getvalue()
    assert "2/2" in text and "ocr: FAILED b.jpg: 415 UnsupportedMediaType" in text and "ok a.jpg" not in text
    assert capsys.readouterr().out == "archive: x -> y\n"


def test_clients_without_a_url_use_ocrserve_url_like_the_cli(monkeypatch):
    from ocrserve import MMOCR
    from ocrserve.client import DEFAULT_URL, AsyncOcrClient, OcrClient

    monkeypatch.delenv("OCRSERVE_URL", raising=False)
    assert OcrClient().url == DEFAULT_URL
    monkeypatch.setenv("OCRSERVE_URL", "http://127.0.0.1:9/")
    assert OcrClient().url == AsyncOcrClient().url == MMOCR().client.url == "http://127.0.0.1:9"
    assert OcrClient("http://[::1]:8000").url == "http://[::1]:8000"  # an explicit URL wins
