"""ImageFeaturizer: every input is featurized or rejected with a reason; X is (N, C, H, W) in [0, 1]."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from biodl.errors import UserError
from biodl.featurizers import FEATURIZERS, make_featurizer
from biodl.featurizers.images import ImageFeaturizer


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file of each kind; name → path."""
    import tifffile
    from PIL import Image

    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    blob = np.zeros((60, 80), dtype=np.float64)
    yy, xx = np.mgrid[0:60, 0:80]
    blob += np.exp(-((yy - 30) ** 2 + (xx - 40) ** 2) / 200.0)
    u8 = np.clip(blob * 200 + rng.integers(0, 20, blob.shape), 0, 255).astype(np.uint8)
    p = {}
    p["u8_tif"] = d / "gray8.tif"
    tifffile.imwrite(p["u8_tif"], u8)
    p["u16_tif"] = d / "gray16.tiff"
    tifffile.imwrite(p["u16_tif"], u8.astype(np.uint16) * 257)  # same picture, 16-bit range
    p["rgb_tif"] = d / "rgb.tif"
    tifffile.imwrite(p["rgb_tif"], np.stack([u8, u8 // 2, u8 // 4], axis=-1))
    p["cyx_tif"] = d / "channels_first.tif"
    tifffile.imwrite(p["cyx_tif"], np.stack([u8, u8 // 2, u8 // 4]).astype(np.uint16), imagej=True,
                     metadata={"axes": "CYX"})
    p["c5_tif"] = d / "five_channels.tif"
    tifffile.imwrite(p["c5_tif"], np.stack([u8] * 5), imagej=True, metadata={"axes": "CYX"})
    p["z_tif"] = d / "zstack.tif"
    tifffile.imwrite(p["z_tif"], np.stack([u8] * 3), imagej=True, metadata={"axes": "ZYX"})
    p["pages_tif"] = d / "pages.tif"
    tifffile.imwrite(p["pages_tif"], np.stack([u8] * 9))
    p["rgb_png"] = d / "rgb.png"
    Image.fromarray(np.stack([u8, u8 // 2, u8 // 4], axis=-1)).save(p["rgb_png"])
    p["rgba_png"] = d / "rgba.png"
    Image.fromarray(np.stack([u8, u8 // 2, u8 // 4, np.full_like(u8, 128)], axis=-1)).save(p["rgba_png"])
    p["gray_png"] = d / "gray.png"
    Image.fromarray(u8).save(p["gray_png"])
    p["gray16_png"] = d / "gray16.png"
    Image.fromarray(u8.astype(np.uint16) * 257).save(p["gray16_png"])
    p["jpg"] = d / "photo.JPG"
    Image.fromarray(u8).save(p["jpg"], quality=95)
    p["lzw_tif"] = d / "lzw.tif"  # tifffile needs imagecodecs for LZW; Pillow reads it
    Image.fromarray(u8).save(p["lzw_tif"], compression="tiff_lzw")
    p["const_tif"] = d / "constant.tif"
    tifffile.imwrite(p["const_tif"], np.full((40, 40), 9, np.uint8))
    p["small_tif"] = d / "small.tif"
    tifffile.imwrite(p["small_tif"], u8[20:40, 30:50])
    p["tiny_png"] = d / "tiny.png"
    Image.fromarray(u8[28:32, 38:45]).save(p["tiny_png"])  # 4 × 7 pixels
    p["huge_png"] = d / "huge.png"
    _png_claiming(p["huge_png"], 20_000, 20_000)
    p["corrupt_tif"] = d / "corrupt.tif"
    p["corrupt_tif"].write_bytes(rng.bytes(1000))
    p["corrupt_png"] = d / "corrupt.png"
    p["corrupt_png"].write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(300))
    p["empty_tif"] = d / "empty.tif"
    p["empty_tif"].write_bytes(b"")
    p["bmp"] = d / "picture.bmp"
    Image.fromarray(u8).save(p["bmp"])
    p["txt"] = d / "notes.txt"
    p["txt"].write_text("not an image")
    p["missing"] = d / "missing.tif"
    p["bbbc"] = d / "SIMCEPImages_A05_C5_F23_s03_w1.TIF"
    tifffile.imwrite(p["bbbc"], u8)
    return p


def _png_claiming(path, width: int, height: int) -> None:
    """A valid PNG header for width × height gray pixels followed by only a few rows of data:
    a reader that trusts the header before decoding rejects it in microseconds."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def huge_tif(tmp_path_factory):
    """A real, 0.5 MB zlib-tiled TIFF that decodes to 20,000 × 20,000 pixels (400 MB), written tile by
    tile so the test itself never holds the image."""
    import tifffile

    path = tmp_path_factory.mktemp("huge") / "huge.tif"
    tile = np.zeros((512, 512), np.uint8)
    n_tiles = (-(-20_000 // 512)) ** 2
    tifffile.imwrite(path, (tile for _ in range(n_tiles)), shape=(20_000, 20_000), dtype=np.uint8,
                     tile=(512, 512), compression="zlib")
    return path


GOOD = ["u8_tif", "u16_tif", "rgb_tif", "cyx_tif", "rgb_png", "rgba_png", "gray_png", "gray16_png", "jpg",
        "lzw_tif", "small_tif", "bbbc"]
BAD = {
    "const_tif": "constant image (every pixel is 9)",
    "tiny_png": "image is 4 × 7 pixels, smaller than min_side=8",
    "huge_png": "image has 400,000,000 pixels (20000 × 20000), more than max_pixels=100,000,000; not decoded",
    "corrupt_tif": "unreadable tiff",
    "corrupt_png": "corrupt",
    "empty_tif": "empty file",
    "bmp": "unsupported extension",
    "txt": "unsupported extension",
    "missing": "not found",
    "c5_tif": "5 channels",
    "z_tif": "z-stack",
    "pages_tif": "9 pages",
}


def test_registered_and_spec_round_trip():
    assert FEATURIZERS["image"] is ImageFeaturizer
    f = ImageFeaturizer(size=(64, 48), mode="crop", channels=3, percentiles=(0.5, 99.5))
    spec = f.spec()
    assert spec == {
        "type": "image", "size": [64, 48], "mode": "crop", "channels": 3, "percentiles": [0.5, 99.5],
        "max_pixels": 100_000_000, "min_side": 8,
    }
    import json

    assert make_featurizer(json.loads(json.dumps(spec))).params == f.params
    assert ImageFeaturizer(size=32).size == [32, 32]


@pytest.mark.parametrize(
    "kwargs",
    [dict(mode="stretch"), dict(channels=2), dict(size=(0, 10)), dict(size="big"), dict(percentiles=(99, 1)),
     dict(percentiles=(0, 101)), dict(max_pixels=0), dict(max_pixels=1.5e8), dict(max_pixels=True),
     dict(min_side=0), dict(min_side="8")],
)
def test_bad_params_are_user_errors(kwargs):
    with pytest.raises(UserError):
        ImageFeaturizer(**kwargs)


@pytest.mark.parametrize("mode", ["resize", "crop"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_input_kept_or_rejected(files, mode, channels):
    names = GOOD + list(BAD)
    inputs = [str(files[n]) if i % 2 else files[n] for i, n in enumerate(names)]  # str and Path
    f = ImageFeaturizer(size=(32, 40), mode=mode, channels=channels)
    res = f.featurize(inputs)
    assert len(res.kept) + len(res.rejects) == len(inputs)
    assert res.X.shape == (len(GOOD), channels, 32, 40) and res.X.dtype == np.float32
    assert np.isfinite(res.X).all() and res.X.min() >= 0.0 and res.X.max() <= 1.0
    assert [names[i] for i in res.kept] == GOOD
    reasons = {names[r.index]: r.reason for r in res.rejects}
    assert set(reasons) == set(BAD)
    for name, expected in BAD.items():
        assert expected.lower() in reasons[name].lower(), (name, reasons[name])
    for r in res.rejects:
        assert r.input == str(inputs[r.index])
    assert ".png" in reasons["bmp"] and ".tif" in reasons["bmp"]  # the supported types are listed


def test_non_paths_are_rejected_not_raised(files, tmp_path):
    res = ImageFeaturizer(size=16).featurize([None, 3, "", tmp_path, files["u8_tif"]])
    assert list(res.kept) == [4]
    assert [r.index for r in res.rejects] == [0, 1, 2, 3]
    assert "not a regular file" in res.rejects[3].reason


def test_offsets_are_global_indices(files):
    inputs = [files["u8_tif"], files["missing"]] * 5
    res = ImageFeaturizer(size=16).featurize(inputs)
    assert list(res.kept) == [0, 2, 4, 6, 8]
    assert [r.index for r in res.rejects] == [1, 3, 5, 7, 9]


def test_bit_depth_does_not_change_features(files):
    f = ImageFeaturizer(size=(30, 40))
    res = f.featurize([files["u8_tif"], files["u16_tif"], files["gray_png"], files["gray16_png"]])
    X = res.X
    for k in (1, 2, 3):
        np.testing.assert_allclose(X[k], X[0], atol=1e-5)


def test_values_and_channels(files):
    res = ImageFeaturizer(size=(60, 80), channels=1).featurize([files["u8_tif"], files["rgb_png"]])
    gray, rgb_as_gray = res.X
    assert gray.max() == pytest.approx(1.0) and gray.min() == 0.0
    # luminance of (v, v/2, v/4) is proportional to v: same picture after normalization
    np.testing.assert_allclose(rgb_as_gray, gray, atol=0.02)
    res3 = ImageFeaturizer(size=(60, 80), channels=3).featurize([files["u8_tif"], files["rgb_png"]])
    g3, rgb3 = res3.X
    np.testing.assert_array_equal(g3[0], g3[1])  # gray repeated
    np.testing.assert_array_equal(g3[1], g3[2])
    assert rgb3[0].mean() > rgb3[1].mean() > rgb3[2].mean()  # colour kept, jointly normalized


def test_channel_first_and_channel_last_tiffs_agree(files):
    res = ImageFeaturizer(size=(60, 80), channels=3).featurize([files["rgb_tif"], files["cyx_tif"]])
    np.testing.assert_allclose(res.X[0], res.X[1], atol=1e-5)


def test_crop_pads_with_zeros(files):
    res = ImageFeaturizer(size=(40, 40), mode="crop").featurize([files["small_tif"]])
    small = res.X[0, 0]
    assert small.shape == (40, 40)
    assert not small[:10].any() and not small[30:].any() and not small[:, :10].any()  # 20×20 centred
    assert small[10:30, 10:30].max() == pytest.approx(1.0)


def test_meta(files):
    inputs = [files["bbbc"], files["u16_tif"], files["rgb_png"], files["missing"]]
    res = ImageFeaturizer(size=16).featurize(inputs)
    m = res.meta
    assert set(m) == {"file", "scene", "blur", "orig_dtype", "orig_shape", "sha256"}
    assert m["file"] == [files["bbbc"].name, "gray16.tiff", "rgb.png"]
    assert m["scene"] == ["C5_s3", "gray16", "rgb"]
    assert m["blur"] == [23, None, None]
    assert m["orig_dtype"] == ["uint8", "uint16", "uint8"]
    assert m["orig_shape"] == ["(60, 80)", "(60, 80)", "(60, 80, 3)"]
    assert m["sha256"][1] == hashlib.sha256(files["u16_tif"].read_bytes()).hexdigest()
    assert ImageFeaturizer(size=16).featurize(inputs, meta=False).meta == {}


def test_empty_input():
    res = ImageFeaturizer(size=(8, 12), channels=3).featurize([])
    assert res.X.shape == (0, 3, 8, 12) and res.X.dtype == np.float32 and len(res.kept) == 0


def test_parallel_equals_serial(files):
    names = GOOD + list(BAD)
    inputs = [files[n] for n in names] * 2
    serial = ImageFeaturizer(size=(24, 24), n_jobs=1).featurize(inputs)
    parallel = ImageFeaturizer(size=(24, 24), n_jobs=2).featurize(inputs)
    np.testing.assert_array_equal(serial.X, parallel.X)
    np.testing.assert_array_equal(serial.kept, parallel.kept)
    assert serial.rejects == parallel.rejects
    assert serial.meta == parallel.meta


def test_simulated_images_featurize(tmp_path):
    from biodl.simulate import simulate_cells

    paths = simulate_cells(tmp_path / "sim", counts=(2, 6), sites=1, blurs=(1, 48), size=64)
    res = ImageFeaturizer(size=(32, 32)).featurize(paths)
    assert res.X.shape == (4, 1, 32, 32) and not res.rejects
    assert res.meta["scene"] == ["C2_s1", "C2_s1", "C6_s1", "C6_s1"]
    assert res.meta["blur"] == [1, 48, 1, 48]


# -- inputs bounded before decoding -----------------------------------------------------------------
def test_huge_tiff_is_rejected_from_its_header_without_decoding(huge_tif):
    import tracemalloc

    assert huge_tif.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        res = ImageFeaturizer(size=32).featurize([huge_tif])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(res.kept) == 0
    assert res.rejects[0].reason == (
        "image has 400,000,000 pixels (20000 × 20000), more than max_pixels=100,000,000; not decoded")
    assert peak < 50 * 2**20  # decoding alone would allocate 400 MB (3.2 GB as float64)


def test_pixel_limit_and_min_side_are_parameters(files):
    inputs = [files["u8_tif"], files["rgb_png"], files["tiny_png"]]  # 60 × 80, 60 × 80 RGB, 4 × 7
    res = ImageFeaturizer(size=16, max_pixels=60 * 80 - 1, min_side=4).featurize(inputs)
    assert list(res.kept) == [2]
    reasons = [r.reason for r in res.rejects]
    # colour samples of one pixel do not count: an RGB image has as many pixels as a gray one
    assert reasons == ["image has 4,800 pixels (60 × 80), more than max_pixels=4,799; not decoded",
                       "image has 4,800 pixels (60 × 80), more than max_pixels=4,799; not decoded"]
    assert list(ImageFeaturizer(size=16, max_pixels=60 * 80, min_side=4).featurize(inputs).kept) == [0, 1, 2]


def test_pillow_guard_is_left_as_it_was(files):
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    ImageFeaturizer(size=16).featurize([files["huge_png"], files["gray_png"]])
    assert Image.MAX_IMAGE_PIXELS == before


def test_constant_inside_the_crop_is_a_reject(tmp_path):
    import tifffile

    img = np.full((64, 64), 50, np.uint8)
    img[:4] = 200  # contrast only in the top rows, outside the 32 × 32 centre
    tifffile.imwrite(tmp_path / "edge.tif", img)
    res = ImageFeaturizer(size=32, mode="crop").featurize([tmp_path / "edge.tif"])
    assert [r.reason for r in res.rejects] == ["no contrast left after crop to 32 × 32"]
    assert len(ImageFeaturizer(size=32, mode="resize").featurize([tmp_path / "edge.tif"]).kept) == 1
