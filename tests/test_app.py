"""training/app.py: the Gradio page started locally and driven through gradio_client (no browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.media_fixtures import group_photo, tiny_checkpoint

pytest.importorskip("gradio", reason="the web page is an optional extra: pip install -r requirements-app.txt")
gradio_client = pytest.importorskip("gradio_client")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    ckpt = tiny_checkpoint(tmp / "tiny.pth")
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    with open(tmp / "app.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "training/app.py", "--weights_path", str(ckpt), "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if "Running on" in (tmp / "app.log").read_text():
                break
            time.sleep(1)
        assert proc.poll() is None, (tmp / "app.log").read_text()[-3000:]
        yield {"url": f"http://127.0.0.1:{port}/", "tmp": tmp}
        proc.terminate()
        proc.wait(timeout=30)


def test_page_scores_a_group_photo_and_reports_a_bad_file(app):
    client = gradio_client.Client(app["url"], verbose=False)
    group_photo(app["tmp"] / "group.jpg")
    text, picture, plot, heat, result = client.predict(
        gradio_client.handle_file(str(app["tmp"] / "group.jpg")), api_name="/score"
    )
    assert "group.jpg" in text and ("REAL" in text or "FAKE" in text) and "8 face(s)" in text
    assert result["n_faces"] == 8 and result["verdict"] in ("real", "fake") and result["file"] == "group.jpg"
    assert os.path.isfile(picture) and os.path.isfile(plot)
    (app["tmp"] / "notes.mp4").write_text("not a video")
    text, picture, *_, result = client.predict(
        gradio_client.handle_file(str(app["tmp"] / "notes.mp4")), api_name="/score"
    )
    assert "no verdict" in text and result["verdict"] == "error" and picture is None


def test_bad_checkpoint_is_one_error_line(tmp_path):
    p = subprocess.run([sys.executable, "training/app.py", "--weights_path", str(tmp_path / "missing.pth")],
                       cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 2 and p.stderr.startswith("error:") and "Traceback" not in p.stderr
