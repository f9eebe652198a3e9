"""load_image: every kind of input and every kind of bad input; preprocessing by hand."""
import base64
import contextlib
import http.server
import io
import os
import socket
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

import vit_tutorial as vt
from vit_tutorial import images
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
    with pytest.raises(ImageLoadError, match="no such file.*the bundled samples are: cat"):
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


def test_pil_input_is_not_modified(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif)
    with Image.open(path) as original:
        original.load()
        before = (original.size, original.mode, original.getexif().get(0x0112), original.tobytes())
        out = vt.load_image(original)
        out.putpixel((0, 0), (1, 2, 3))
        assert out.size == (20, 40) and out is not original
        assert (original.size, original.mode, original.getexif().get(0x0112), original.tobytes()) == before
    rgb = Image.new("RGB", (5, 6), (7, 8, 9))
    same = vt.load_image(rgb)
    same.putpixel((0, 0), (0, 0, 0))
    assert rgb.getpixel((0, 0)) == (7, 8, 9)


def test_closed_lazy_pil_image_is_an_image_load_error(tmp_path):
    path = tmp_path / "lazy.png"
    Image.new("RGB", (5, 6)).save(path)
    img = Image.open(path)  # lazy: pixels not read yet
    img.close()
    with pytest.raises(ImageLoadError, match="the PIL image"):
        vt.load_image(img)


@pytest.mark.parametrize(
    "array, shape",
    [
        (np.zeros((5, 6), np.uint8), (5, 6, 3)),
        (np.zeros((5, 6, 1), np.uint8), (5, 6, 3)),
        (np.zeros((5, 6, 3), np.uint8), (5, 6, 3)),
        (np.zeros((5, 6, 4), np.uint8), (5, 6, 3)),
        (np.zeros((3, 5, 6), np.uint8), (5, 6, 3)),  # channels first, unambiguous
        (np.zeros((1, 5, 6, 3), np.uint8), (5, 6, 3)),  # a batch of one
        (np.ones((5, 6, 3), np.float32), (5, 6, 3)),
        (np.ones((5, 6, 3), np.float16), (5, 6, 3)),
        (np.zeros((5, 6), bool), (5, 6, 3)),
        (np.zeros((5, 6), np.uint16), (5, 6, 3)),
        (np.zeros((5, 6, 3), ">u2"), (5, 6, 3)),  # big-endian 16-bit
        (np.zeros((6, 5, 3), np.uint8).transpose(1, 0, 2), (5, 6, 3)),  # not contiguous
    ],
)
def test_arrays(array, shape):
    before = array.copy()
    img = vt.load_image(array)
    assert _rgb(img).shape == shape
    np.testing.assert_array_equal(array, before)  # input not modified
    img.putpixel((0, 0), (1, 2, 3))
    np.testing.assert_array_equal(array, before)  # and the image does not share its memory


def test_tensor_channels_first_and_last():
    chw = torch.rand(3, 8, 10)
    a = _rgb(vt.load_image(chw))
    b = _rgb(vt.load_image(chw.permute(1, 2, 0)))
    assert a.shape == b.shape == (8, 10, 3)
    np.testing.assert_array_equal(a, b)


def test_channels_first_tensor_with_small_width_is_read_channels_first():
    # (3, H, W) with W = 5: only the channels-first reading fits
    chw = torch.zeros(3, 8, 5)
    chw[0] = 1.0  # red
    a = _rgb(vt.load_image(chw))
    assert a.shape == (8, 5, 3) and (a == [255, 0, 0]).all()
    np.testing.assert_array_equal(_rgb(vt.load_image(chw.numpy())), a)  # arrays the same way


@pytest.mark.parametrize("shape", [(3, 4, 3), (3, 8, 4), (4, 6, 3), (1, 6, 1), (3, 3, 3)])
@pytest.mark.parametrize("kind", ["tensor", "array"])
def test_ambiguous_layout_is_refused_with_the_fix(shape, kind):
    x = torch.rand(shape) if kind == "tensor" else np.random.default_rng(0).random(shape)
    with pytest.raises(ImageLoadError, match=r"could be \(C, H, W\) or \(H, W, C\).*channels='first'"):
        vt.load_image(x)


def test_channels_argument_settles_the_layout():
    x = torch.rand(3, 8, 4)  # 3 channels of 8x4, or 3x8 with 4 channels
    first = vt.load_image(x, channels="first")
    last = vt.load_image(x, channels="last")
    assert first.size == (4, 8) and last.size == (8, 3)
    np.testing.assert_array_equal(_rgb(first), _rgb(vt.load_image(x.permute(1, 2, 0).contiguous(), channels="last")))
    with pytest.raises(ImageLoadError, match="channels='first' needs 1, 3 or 4"):
        vt.load_image(torch.rand(5, 8, 3), channels="first")
    with pytest.raises(ImageLoadError, match="channels must be"):
        vt.load_image(x, channels="CHW")


def test_batch_of_several_is_refused():
    with pytest.raises(ImageLoadError, match=r"batch of 2 images.*x\[0\]"):
        vt.load_image(torch.rand(2, 3, 8, 10))


# --------------------------------------------------------------------------- bit depth: from dtype and mode


def test_dark_16_bit_array_stays_dark():
    levels = np.array([[0, 1, 2, 10], [50, 100, 200, 255]])
    a16 = (levels * 257).astype(np.uint16)  # 16-bit values of those 8-bit levels; max 65535
    np.testing.assert_array_equal(_rgb(vt.load_image(a16))[..., 0], levels)
    dark = np.array([[0, 100], [200, 257]], np.uint16)  # max 257: still 16-bit, so at most 1 of 255
    assert _rgb(vt.load_image(dark)).max() <= 1
    tiny = np.full((5, 6), 200, np.uint16)  # 200/65535 of full scale, not 200/255
    assert _rgb(vt.load_image(tiny)).max() == 1
    assert _rgb(vt.load_image(torch.from_numpy(tiny.astype(np.int32)).to(torch.uint16))).max() == 1


def test_8_bit_array_is_not_rescaled():
    a = np.full((5, 6), 3, np.uint8)
    assert (_rgb(vt.load_image(a)) == 3).all()


def test_16_bit_grayscale_is_scaled():
    arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I")
    a = _rgb(vt.load_image(img))
    assert a[0, 0, 0] == 0 and a[0, 1, 0] == 255 and a[1, 0, 0] in (127, 128) and a[1, 1, 0] == 4


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_dark_16_bit_pil_modes(mode):
    levels = np.arange(0, 60, dtype=np.uint16).reshape(6, 10)  # a dark picture, 8-bit levels 0..59
    img = Image.fromarray(levels * 257)
    if mode == "I":
        img = img.convert("I")
    assert img.mode == mode
    np.testing.assert_array_equal(_rgb(vt.load_image(img))[..., 1], levels)


def test_dark_16_bit_png_keeps_its_brightness(tmp_path):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 40, size=(12, 16))  # 8-bit levels, all dark
    values = (levels * 257 + rng.integers(-100, 100, size=levels.shape)).clip(0, 65535).astype(np.uint16)
    path = tmp_path / "dark16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode in ("I;16", "I")  # depends on the Pillow version; Pillow 13 says I;16
    got = _rgb(vt.load_image(path))[..., 0].astype(int)
    assert np.abs(got - levels).max() <= 1
    assert got.max() < 45  # not 257x too bright


def _png_rgb16(values):
    """A 16-bit-per-channel RGB PNG, written by hand (PIL can't save one)."""
    import struct
    import zlib

    h, w, _ = values.shape
    raw = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)  # 16 bits, colour type 2 (RGB)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_dark_16_bit_rgb_png_keeps_its_brightness():
    levels = np.random.default_rng(1).integers(0, 30, size=(6, 7, 3))
    got = _rgb(vt.load_image(_png_rgb16((levels * 257).astype(np.uint16)))).astype(int)
    assert np.abs(got - levels).max() <= 1


def test_mode_i_out_of_16_bit_range_is_refused():
    img = Image.fromarray(np.array([[0, 70000]], np.int32))
    assert img.mode == "I"
    with pytest.raises(ImageLoadError, match="read as 16-bit"):
        vt.load_image(img)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64])
def test_other_integer_dtypes_are_refused(dtype):
    with pytest.raises(ImageLoadError, match=r"must be uint8 \(0-255\) or uint16.*astype\(np.uint8\)"):
        vt.load_image(np.full((5, 6), 3, dtype))


def test_int64_tensor_is_refused_with_the_torch_fix():
    with pytest.raises(ImageLoadError, match=r"to\(torch.uint8\)"):
        vt.load_image(torch.randint(0, 256, (3, 8, 10)))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((5, 6, 2), np.uint8), "shape"),
        (np.zeros((2, 2, 2, 2, 2), np.uint8), "shape"),
        (np.zeros(7, np.uint8), "shape"),
        (np.full((5, 6), 2.0, np.float32), r"float images must lie in \[0, 1\]"),
        (np.full((5, 6), np.nan, np.float32), "NaN"),
        (np.full((5, 6), -1, np.int32), "dtype int32"),
        (np.zeros((5, 6), np.complex64), "dtype"),
        (np.zeros((5, 6), object), "dtype"),
    ],
)
def test_bad_arrays(bad, message):
    with pytest.raises(ImageLoadError, match=message):
        vt.load_image(bad)


def test_an_already_normalised_tensor_gets_advice_for_normalised_input():
    x = vt.preprocess(np.full((8, 8, 3), 30, np.uint8), size=8)[0]  # (30 / 255 - 0.5) / 0.5: about -0.76
    with pytest.raises(ImageLoadError, match=r"already normalised.*to_display") as err:
        vt.load_image(x)
    assert "255" not in str(err.value)
    with pytest.raises(ImageLoadError, match=r"divide 0-255 values by 255"):  # what that advice is right for
        vt.load_image(torch.full((3, 8, 8), 200.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.uint8])
def test_a_huge_expanded_tensor_is_refused_before_it_is_materialised(dtype):
    x = torch.zeros(3, 1, 1, dtype=dtype).expand(3, 60000, 60000)  # 10.8 billion values in 3 elements of memory
    assert x.stride() == (1, 0, 0)
    with pytest.raises(ImageLoadError, match=r"\(3, 60000, 60000\).*MAX_IMAGE_PIXELS"):
        vt.load_image(x)
    with pytest.raises(ImageLoadError, match="MAX_IMAGE_PIXELS"):
        vt.load_image(np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (60000, 60000, 3)))


# --------------------------------------------------------------------------- tensors of every kind


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_and_high_precision_float_tensors(dtype):
    x = torch.rand(3, 8, 10)
    want = _rgb(vt.load_image(x))
    got = _rgb(vt.load_image(x.to(dtype))).astype(int)
    assert np.abs(got - want).max() <= 1


def test_tensor_requiring_grad_is_read_and_left_alone():
    x = torch.rand(3, 8, 10, requires_grad=True)
    before = x.detach().clone()
    assert _rgb(vt.load_image(x)).shape == (8, 10, 3)
    assert x.requires_grad and x.grad is None
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)


def test_uint8_tensor_is_not_modified():
    x = torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8)
    before = x.clone()
    img = vt.load_image(x)
    img.putpixel((0, 0), (1, 2, 3))
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: torch.rand(3, 8, 10, device="meta"), "meta device"),
        (lambda: torch.rand(3, 8, 10, dtype=torch.complex64), "complex"),
        (lambda: torch.rand(8, 10).to_sparse(), r"sparse.*to_dense\(\)"),
        (lambda: torch.quantize_per_tensor(torch.rand(8, 10), 0.1, 0, torch.quint8), r"quantized.*dequantize\(\)"),
    ],
)
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_bad_tensors(make, message):
    with pytest.raises(ImageLoadError, match=message):
        vt.load_image(make())


def test_image_load_error_is_a_value_error():
    assert issubclass(ImageLoadError, ValueError)


def test_decompression_bomb_is_an_image_load_error(monkeypatch):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 4096 pixels > 2 x 100: PIL refuses
    with pytest.raises(ImageLoadError, match="too many pixels.*MAX_IMAGE_PIXELS"):
        vt.load_image(buf.getvalue())


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        vt.load_image(tmp_path / "nope.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageLoadError, match="is a folder"):
        vt.load_image(tmp_path)


def _finishes_within(seconds, fn, *args):
    """Run fn(*args) in a thread; fail (instead of hanging the suite) if it takes too long."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn(*args)
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return outcome, time.monotonic() - start


@contextlib.contextmanager
def _memory_cap(extra=512 * 2**20):
    """Let this process grow by at most ``extra`` bytes, so that a regression that reads an
    endless device fails with MemoryError instead of taking the machine's memory."""
    resource = pytest.importorskip("resource")
    try:
        with open("/proc/self/status") as status:
            used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    except (OSError, StopIteration, ValueError, AttributeError):
        pytest.skip("can't cap this process's memory here")
    cap = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _raises_load_error(outcome, message):
    err = outcome.get("error")
    assert isinstance(err, ImageLoadError), f"expected ImageLoadError, got {outcome!r}"
    import re

    assert re.search(message, str(err)), str(err)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_is_refused_before_reading():
    with _memory_cap():
        outcome, seconds = _finishes_within(5, vt.load_image, "/dev/zero")
    _raises_load_error(outcome, r"/dev/zero is a character device, not a regular file")
    assert seconds < 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    try:
        outcome, seconds = _finishes_within(5, vt.load_image, fifo)
    finally:  # if load_image did block in open(), a writer releases it
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    _raises_load_error(outcome, r"pipe.png is a named pipe \(FIFO\), not a regular file")
    assert seconds < 1


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_socket_file_is_refused():
    with tempfile.TemporaryDirectory(dir="/tmp" if os.path.isdir("/tmp") else None) as folder:
        path = os.path.join(folder, "s.png")  # short: socket paths are limited to ~100 characters
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path)
            with pytest.raises(ImageLoadError, match="is a socket, not a regular file"):
                vt.load_image(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_link_to_a_device_is_refused_but_link_to_a_file_works(tmp_path):
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    with _memory_cap(), pytest.raises(ImageLoadError, match="character device"):
        vt.load_image(tmp_path / "zero.png")
    Image.new("RGB", (5, 6), (0, 255, 0)).save(tmp_path / "green.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "green.png")
    assert tuple(_rgb(vt.load_image(tmp_path / "link.png"))[0, 0]) == (0, 255, 0)


def test_large_file_is_refused_from_its_size(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_DOWNLOAD_BYTES", 1000)
    path = tmp_path / "big.png"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(ImageLoadError, match=r"big.png is 1.95 KiB, more than the 1000 bytes allowed.*MAX_DOWNLOAD_BYTES"):
        vt.load_image(path)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="no /proc here")
def test_file_reads_stop_at_the_cap_even_when_its_size_says_0(monkeypatch):
    # /proc files are regular and report size 0, but hold more: only the capped read catches them
    assert os.stat("/proc/self/maps").st_size == 0
    monkeypatch.setattr(images, "MAX_DOWNLOAD_BYTES", 200)
    with pytest.raises(ImageLoadError, match="more than 200 bytes"):
        vt.load_image("/proc/self/maps")


def test_odd_paths(tmp_path):
    with pytest.raises(ImageLoadError, match="the path is empty"):
        vt.load_image("")
    with pytest.raises(ImageLoadError, match="can't read"):
        vt.load_image("bad\0name.png")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ImageLoadError, match="a part of the path is a file"):
        vt.load_image(tmp_path / "file.txt" / "x.png")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may read anything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (5, 6)).save(path)
    path.chmod(0)
    with pytest.raises(ImageLoadError, match="permission denied"):
        vt.load_image(path)


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
        def do_GET(self):
            if self.path == "/blue.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png)
            elif self.path == "/broken.png":
                self.send_error(500)
            elif self.path == "/moved.png":
                self.send_response(302)
                self.send_header("Location", "/blue.png")
                self.end_headers()
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


def test_url_server_error(image_server):
    with pytest.raises(ImageLoadError, match="answered 500"):
        vt.load_image(image_server + "/broken.png")


def test_url_redirect(image_server):
    assert tuple(_rgb(vt.load_image(image_server + "/moved.png"))[0, 0]) == (0, 0, 255)


@pytest.mark.parametrize("scheme", ["HTTP", "Http", "hTTp"])
def test_url_scheme_is_case_insensitive(image_server, scheme):
    url = scheme + image_server[len("http"):] + "/blue.png"
    assert tuple(_rgb(vt.load_image(url))[0, 0]) == (0, 0, 255)


def test_https_in_any_case_is_a_url_not_a_path():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for url in (f"HTTPS://127.0.0.1:{port}/x.png", f"Https://127.0.0.1:{port}/x.png"):
        with pytest.raises(ImageLoadError, match="could not download"):
            vt.load_image(url, timeout=2)


@pytest.mark.parametrize("url", ["ftp://example.com/cat.png", "FTP://example.com/cat.png", "s3://bucket/cat.png"])
def test_other_schemes_are_refused_clearly(url):
    with pytest.raises(ImageLoadError, match=r"only http:// and https:// URLs are downloaded.*pass the file's path"):
        vt.load_image(url)


def test_file_url(tmp_path):
    path = tmp_path / "a b.png"
    Image.new("RGB", (5, 6), (0, 255, 0)).save(path)
    assert tuple(_rgb(vt.load_image(path.as_uri()))[0, 0]) == (0, 255, 0)
    assert tuple(_rgb(vt.load_image(path.as_uri().replace("file://", "FILE://")))[0, 0]) == (0, 255, 0)
    with pytest.raises(ImageLoadError, match="must name a local file"):
        vt.load_image("file://example.com/x.png")
    if os.path.exists("/dev/zero"):
        with _memory_cap(), pytest.raises(ImageLoadError, match="character device"):
            vt.load_image("file:///dev/zero")


def test_data_url():
    buf = io.BytesIO()
    Image.new("RGB", (5, 6), (9, 8, 7)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert tuple(_rgb(vt.load_image(url))[0, 0]) == (9, 8, 7)
    assert tuple(_rgb(vt.load_image("DATA:image/png;BASE64," + url.split(",")[1]))[0, 0]) == (9, 8, 7)
    with pytest.raises(ImageLoadError, match="base64 payload is broken"):
        vt.load_image("data:image/png;base64,@@@")
    with pytest.raises(ImageLoadError, match="no ','"):
        vt.load_image("data:image/png;base64")


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "soon", None])
def test_bad_timeout(timeout):
    with pytest.raises(ImageLoadError, match="timeout must be a positive number"):
        vt.load_image("http://127.0.0.1:9/blue.png", timeout=timeout)


@contextlib.contextmanager
def _raw_server(talk, lifetime=8.0):
    """A TCP server on 127.0.0.1 that runs talk(conn, stop) for each client; stops by itself."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    end = time.monotonic() + lifetime

    def serve():
        with listener:
            while not stop.is_set() and time.monotonic() < end:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                threading.Thread(target=_talk, args=(talk, conn, stop, end), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)


def _talk(talk, conn, stop, end):
    with conn, contextlib.suppress(OSError):
        conn.settimeout(1)
        talk(conn, lambda seconds: stop.wait(seconds) or time.monotonic() > end)


def _drip(data, gap=0.2):
    def talk(conn, stopped):
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            if stopped(gap):
                return
    return talk


def _silent(conn, stopped):
    while not stopped(0.1):
        pass


HEADER_DRIP = _drip(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + b"x" * 100)


def _body_drip(conn, stopped):  # headers at once, then one byte every 0.2 s
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10000\r\n\r\n")
    while not stopped(0.2):
        conn.sendall(b"x")


@pytest.mark.parametrize("talk", [_body_drip, HEADER_DRIP, _silent], ids=["drip-body", "drip-headers", "silent"])
def test_slow_or_silent_server_costs_at_most_the_timeout(talk):
    with _raw_server(talk) as url:
        start = time.monotonic()
        with pytest.raises(ImageLoadError, match=r"could not download .* within 1 s.*larger timeout="):
            vt.load_image(url + "/cat.png", timeout=1)
        seconds = time.monotonic() - start
        assert 0.9 <= seconds <= 1.5, seconds
        # the download thread is stopped too (its sockets are shut), not left reading the drip
        for _ in range(40):
            if not any(t.name == "vit_tutorial-download" for t in threading.enumerate()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the download thread is still running 2 s after the timeout")


def test_not_http_is_an_image_load_error():
    def garbage(conn, stopped):
        conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")

    with _raw_server(garbage) as url, pytest.raises(ImageLoadError, match="not valid HTTP|could not download"):
        vt.load_image(url + "/cat.png", timeout=3)


def test_closed_without_answer_is_an_image_load_error():
    with _raw_server(lambda conn, stopped: None) as url, pytest.raises(ImageLoadError, match="could not download"):
        vt.load_image(url + "/cat.png", timeout=3)


def test_download_size_cap(monkeypatch):
    monkeypatch.setattr(images, "MAX_DOWNLOAD_BYTES", 1000)

    def announced(conn, stopped):  # says up front that it is too large
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n")
        stopped(3)

    def unannounced(conn, stopped):  # no length: only the capped read notices
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 5000)

    with _raw_server(announced) as url, pytest.raises(ImageLoadError, match=r"is 4.77 MiB, more than the 1000 bytes allowed"):
        vt.load_image(url + "/big.png", timeout=3)
    with _raw_server(unannounced) as url, pytest.raises(ImageLoadError, match=r"is more than 1000 bytes"):
        vt.load_image(url + "/big.png", timeout=3)


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
