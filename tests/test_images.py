"""load_image: every kind of input and every kind of bad input; preprocessing by hand."""
import http.server
import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

import vit_tutorial as vt
from vit_tutorial.images import SAMPLES, ImageLoadError, preprocess_steps, to_display


def _rgb(img):
    assert isinstance(img, Image.Image)
    assert img.mode == "RGB"
    return np.asarray(img)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_load_offline_with_credits(name):
    img = vt.load_image(name)
    assert _rgb(img).shape[2] == 3 and min(img.size) >= 200
    assert "CC0" in vt.sample_credit(name) or "public domain" in vt.sample_credit(name)


def test_unknown_sample_name_lists_samples():
    with pytest.raises(ImageLoadError, match="no such file"):
        vt.load_image("kitten")
    with pytest.raises(ImageLoadError, match="cat, coffee, astronaut, rocket"):
        vt.sample_path("kitten")


def test_path_and_bytes(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (5, 4), (255, 0, 0)).save(path)
    for source in (path, str(path), path.read_bytes()):
        a = _rgb(vt.load_image(source))
        assert a.shape == (4, 5, 3) and (a[..., 0] == 255).all()


def test_grayscale_becomes_rgb():
    a = _rgb(vt.load_image(Image.new("L", (3, 3), 77)))
    assert (a == 77).all()


def test_rgba_is_composited_on_white():
    img = Image.new("RGBA", (2, 2), (0, 0, 0, 0))  # fully transparent black
    img.putpixel((0, 0), (10, 20, 30, 255))
    a = _rgb(vt.load_image(img))
    assert tuple(a[0, 0]) == (10, 20, 30)
    assert tuple(a[1, 1]) == (255, 255, 255)
    assert img.mode == "RGBA"  # the caller's image is untouched


def test_palette_with_transparency():
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    img.info["transparency"] = 0
    a = _rgb(vt.load_image(img))
    assert tuple(a[0, 0]) == (255, 255, 255) and tuple(a[0, 1]) == (0, 255, 0)


def test_16_bit_grayscale_is_scaled():
    arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I")
    a = _rgb(vt.load_image(img))
    assert a[0, 0, 0] == 0 and a[0, 1, 0] == 255 and a[1, 0, 0] in (127, 128)


def test_cmyk():
    img = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # pure red in CMYK
    a = _rgb(vt.load_image(img))
    assert tuple(a[0, 0]) == (255, 0, 0)


def test_one_bit():
    a = _rgb(vt.load_image(Image.new("1", (2, 2), 1)))
    assert (a == 255).all()


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    out = vt.load_image(path)
    assert out.size == (20, 40)  # upright: taller than wide
    a = _rgb(out).astype(int)
    assert a[:18].mean() > 200 and a[22:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize(
    "array, shape",
    [
        (np.zeros((4, 6), np.uint8), (4, 6, 3)),
        (np.zeros((4, 6, 1), np.uint8), (4, 6, 3)),
        (np.zeros((4, 6, 3), np.uint8), (4, 6, 3)),
        (np.zeros((4, 6, 4), np.uint8), (4, 6, 3)),
        (np.ones((4, 6, 3), np.float32), (4, 6, 3)),
        (np.zeros((4, 6), bool), (4, 6, 3)),
    ],
)
def test_arrays(array, shape):
    before = array.copy()
    assert _rgb(vt.load_image(array)).shape == shape
    np.testing.assert_array_equal(array, before)  # input not modified


def test_tensor_channels_first_and_last():
    chw = torch.rand(3, 8, 10)
    a = _rgb(vt.load_image(chw))
    b = _rgb(vt.load_image(chw.permute(1, 2, 0)))
    assert a.shape == b.shape == (8, 10, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((2, 2, 2, 2, 2), np.uint8), "shape"),
        (np.full((4, 4), 2.0, np.float32), r"float images must lie in \[0, 1\]"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.full((4, 4), -1, np.int32), "negative"),
        (np.zeros((4, 4), np.complex64), "dtype"),
    ],
)
def test_bad_arrays(bad, message):
    with pytest.raises(ImageLoadError, match=message):
        vt.load_image(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        vt.load_image(tmp_path / "nope.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder"):
        vt.load_image(tmp_path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(ImageLoadError, match="not an image file"):
        vt.load_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        vt.load_image(path)


def test_truncated_image(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageLoadError, match="could not be decoded|not an image"):
        vt.load_image(path)


def test_wrong_type():
    with pytest.raises(ImageLoadError, match="can't make an image from a dict"):
        vt.load_image({"a": 1})


@pytest.fixture
def image_server():
    buf = io.BytesIO()
    Image.new("RGB", (6, 4), (0, 0, 255)).save(buf, "PNG")
    png = buf.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/blue.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url(image_server):
    a = _rgb(vt.load_image(image_server + "/blue.png"))
    assert a.shape == (4, 6, 3) and tuple(a[0, 0]) == (0, 0, 255)


def test_url_404(image_server):
    with pytest.raises(ImageLoadError, match="answered 404"):
        vt.load_image(image_server + "/missing.png")


def test_unreachable_url_fails_quickly():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ImageLoadError, match="could not download"):
        vt.load_image(f"http://127.0.0.1:{port}/cat.png", timeout=2)


# --------------------------------------------------------------------------- preprocessing


def test_preprocess_equals_the_processor():
    img = vt.load_image("coffee")
    ours = vt.preprocess(img)
    theirs = vt.pixel_values(img, vt.image_processor())
    assert ours.shape == (1, 3, 224, 224) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_preprocess_steps_ranges():
    steps = preprocess_steps("cat")
    assert steps["array"].dtype == np.uint8 and steps["array"].shape == (224, 224, 3)
    assert 0 <= steps["rescaled"].min() and steps["rescaled"].max() <= 1
    x = steps["normalized"]
    assert -1 <= x.min() and x.max() <= 1


def test_to_display_inverts_normalisation():
    steps = preprocess_steps("cat")
    np.testing.assert_allclose(to_display(steps["normalized"]), steps["rescaled"], atol=1e-6)
