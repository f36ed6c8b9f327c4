"""autoann.data._images: image folders, npz archives and arrays into one (N, H, W, C) array, bad input refused clearly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

import autoann.data._images as images_module
from autoann.errors import DataError
from autoann.data._pixels import conform
from autoann.data._images import (IMAGE_SUFFIXES, from_arrays, is_image_source, load_images, read_image_folder,
                            read_npz)


def save(root, rel, size=(4, 6), mode="L", value=100, **params):
    """Write a one-colour image of size (H, W) at root/rel and return its path."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size[::-1], value).save(path, **params)
    return path


def two_classes(root, n=2, **kwargs):
    """root/cat/0.png .. and root/dog/0.png ..: n images per class."""
    for label in ("cat", "dog"):
        for i in range(n):
            save(root, f"{label}/{i}.png", **kwargs)
    return root


# -- folders ------------------------------------------------------------------------


def test_folder_shapes_labels_and_order(tmp_path):
    save(tmp_path, "dog/b.png", value=7)
    save(tmp_path, "dog/a/z.png", value=6)
    save(tmp_path, "cat/2.jpg", value=1)
    save(tmp_path, "cat/10.bmp", value=2)
    save(tmp_path, "cat-2/x.gif", value=3)
    save(tmp_path, "cat/.hidden.png")
    save(tmp_path, ".git/objects/x.png")
    got = read_image_folder(tmp_path)
    assert got.files == ["cat/10.bmp", "cat/2.jpg", "cat-2/x.gif", "dog/a/z.png", "dog/b.png"]
    assert list(got.labels) == ["cat", "cat", "cat-2", "dog", "dog"] and got.labels.dtype == object
    assert got.images.shape == (5, 4, 6, 1) and got.images.dtype == np.uint8
    assert [int(got.images[i, 0, 0, 0]) for i in (0, 2, 4)] == [2, 3, 7]
    assert got.original_sizes == {"4x6": 5} and got.modes == {"L": 4, "P": 1}
    assert got.skipped == [] and got.source == str(tmp_path)


def test_shipped_digits(datasets_dir):
    from sklearn.datasets import load_digits

    digits = load_digits()
    got = read_image_folder(datasets_dir / "digits")
    assert got.images.shape == (1797, 8, 8, 1) and got.images.dtype == np.uint8
    assert Counter(got.labels) == {str(k): n for k, n in Counter(digits.target.tolist()).items()}
    assert got.notes == [] and got.skipped == []
    for index in (0, 3, 1796):
        position = got.files.index(f"{digits.target[index]}/{index:04d}.png")
        expected = np.rint(digits.images[index] * 255 / 16)
        np.testing.assert_array_equal(got.images[position, :, :, 0], expected)


def test_empty_folder_and_no_images(tmp_path):
    with pytest.raises(DataError, match="No image files found.*folder is empty.*images/cat/1.png"):
        read_image_folder(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "notes.txt").write_text("x")
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(DataError, match=r"2 files ignored: 1 not an image file \(.txt\), 1 not an image file"):
        read_image_folder(tmp_path)


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(DataError, match="Image folder not found: .*nowhere"):
        load_images(tmp_path / "nowhere")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_images(save(tmp_path, "one.png"))


def test_one_class_is_refused(tmp_path):
    save(tmp_path, "cat/1.png")
    save(tmp_path, "cat/2.png")
    save(tmp_path, "loose.png")
    with pytest.raises(DataError, match=r"Only one class folder .* \('cat'\).*at least 2 classes"):
        read_image_folder(tmp_path)


def test_mixed_modes_become_rgb(tmp_path):
    save(tmp_path, "cat/grey.png", mode="L", value=77)
    save(tmp_path, "cat/rgb.png", mode="RGB", value=(10, 20, 30))
    save(tmp_path, "dog/rgba.png", mode="RGBA", value=(0, 0, 0, 0))
    save(tmp_path, "dog/grey2.png", mode="L", value=5)
    got = read_image_folder(tmp_path)
    assert got.images.shape == (4, 4, 6, 3) and got.modes == {"L": 2, "RGB": 1, "RGBA": 1}
    by_file = dict(zip(got.files, got.images))
    assert by_file["cat/grey.png"][0, 0].tolist() == [77, 77, 77]
    assert by_file["cat/rgb.png"][0, 0].tolist() == [10, 20, 30]
    assert by_file["dog/rgba.png"][0, 0].tolist() == [255, 255, 255]  # transparent -> white
    assert any(note.startswith("Converted 2 L and 1 RGBA images to RGB") and "greyscale ones are repeated" in note
               for note in got.notes), got.notes


def test_sixteen_bit_and_grey_palette_stay_grey(tmp_path):
    path = tmp_path / "cat" / "deep.png"
    path.parent.mkdir()
    Image.fromarray(np.full((4, 6), 65535, np.uint16)).save(path)
    save(tmp_path, "dog/grey.gif", mode="L", value=40)
    got = read_image_folder(tmp_path)
    assert got.images.shape[-1] == 1 and got.images[:, 0, 0, 0].tolist() == [255, 40]
    assert any("16-bit values are divided by 257" in note for note in got.notes), got.notes


def test_different_sizes_are_resized_to_the_most_common(tmp_path):
    two_classes(tmp_path, n=2, size=(8, 10))
    save(tmp_path, "dog/big.png", size=(20, 30))
    got = read_image_folder(tmp_path)
    assert got.images.shape == (5, 8, 10, 1)
    assert got.original_sizes == {"8x10": 4, "20x30": 1}
    assert any("Resized 1 of 5 images to 8x10, the most common size" in n and "heights were 8..20" in n
               for n in got.notes), got.notes


def test_no_common_size_takes_the_median(tmp_path):
    for i, (h, w) in enumerate([(4, 4), (6, 8), (10, 12), (20, 2)]):
        save(tmp_path, f"{'ab'[i % 2]}/{i}.png", size=(h, w))
    got = read_image_folder(tmp_path)
    assert got.images.shape[1:3] == (8, 6)  # median of 4, 6, 10, 20 and of 4, 8, 12, 2
    assert any("median height and width" in note for note in got.notes)


def test_large_images_are_capped_at_max_side(tmp_path, monkeypatch):
    monkeypatch.setattr(images_module, "MAX_SIDE", 8)
    two_classes(tmp_path, size=(12, 24))
    got = read_image_folder(tmp_path)
    assert got.images.shape == (4, 4, 8, 1) and got.original_sizes == {"12x24": 4}
    assert any("from 12x24 to 4x8" in note and "neither side exceeds 8 pixels" in note for note in got.notes)
    arrays = from_arrays(np.zeros((2, 16, 4), np.uint8), [0, 1])
    assert arrays.images.shape == (2, 8, 2, 1) and arrays.original_sizes == {"16x4": 2}


def test_corrupt_files_are_skipped_and_reported(tmp_path):
    two_classes(tmp_path)
    (tmp_path / "cat" / "garbage.png").write_bytes(b"not a png at all")
    big = save(tmp_path, "dog/truncated.png", size=(40, 40), mode="RGB", value=(1, 2, 3))
    big.write_bytes(big.read_bytes()[:60])
    got = read_image_folder(tmp_path)
    assert len(got.files) == 4 and got.images.shape[-1] == 1
    reasons = dict(got.skipped)
    assert reasons["cat/garbage.png"] == "corrupt: cannot identify image file"
    assert reasons["dog/truncated.png"].startswith("corrupt: ")
    assert any("Skipped 2 files: cat/garbage.png (corrupt: cannot identify image file)" in n for n in got.notes)


def test_every_file_corrupt(tmp_path):
    for rel in ("cat/a.png", "dog/b.jpg"):
        (tmp_path / rel).parent.mkdir()
        (tmp_path / rel).write_bytes(b"\x00garbage")
    with pytest.raises(DataError, match="None of the 2 image files .* could be decoded .*cannot identify"):
        read_image_folder(tmp_path)


def test_non_image_and_loose_files_are_ignored_and_reported(tmp_path):
    two_classes(tmp_path)
    (tmp_path / "cat" / "labels.txt").write_text("x")
    save(tmp_path, "stray.png")
    got = read_image_folder(tmp_path)
    assert len(got.files) == 4
    assert got.skipped == [("cat/labels.txt", "not an image file (.txt)"), ("stray.png", "not in a class folder")]
    assert any("Ignored 1 file at the top level (stray.png)" in note for note in got.notes), got.notes
    assert any("cat/labels.txt (not an image file (.txt))" in note for note in got.notes), got.notes


def test_unlabeled_flat_and_class_folders(tmp_path):
    save(tmp_path / "flat", "b.png", value=2)
    save(tmp_path / "flat", "a.jpeg", value=1)
    flat = read_image_folder(tmp_path / "flat", labeled=False)
    assert flat.files == ["a.jpeg", "b.png"] and flat.labels is None and flat.images.shape == (2, 4, 6, 1)
    nested = read_image_folder(two_classes(tmp_path / "nested"), labeled=False)
    assert list(nested.labels) == ["cat", "cat", "dog", "dog"]
    one = read_image_folder(save(tmp_path / "one", "cat/1.png").parents[1], labeled=False)
    assert list(one.labels) == ["cat"]


def test_requested_size_and_channels_for_prediction(tmp_path):
    save(tmp_path, "a.png", size=(10, 10), mode="RGB", value=(200, 100, 0))
    save(tmp_path, "b.png", size=(8, 8), mode="RGB", value=(0, 0, 0))
    got = read_image_folder(tmp_path, labeled=False, size=(8, 8), channels=1)
    assert got.images.shape == (2, 8, 8, 1)
    assert got.images[0, 4, 4, 0] == Image.new("RGB", (1, 1), (200, 100, 0)).convert("L").getpixel((0, 0))
    assert "Resized 1 of 2 images to the requested 8x8." in got.notes
    assert "Converted 2 RGB images to L (as requested)." in got.notes
    with pytest.raises(DataError, match="size must be .*got \\(8, 0\\)"):
        read_image_folder(tmp_path, labeled=False, size=(8, 0))
    with pytest.raises(DataError, match="channels must be 1 .*got 5"):
        read_image_folder(tmp_path, labeled=False, channels=5)


# -- npz and arrays -----------------------------------------------------------------


def npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


def test_npz_round_trip(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    got = read_npz(npz(tmp_path, x=x, y=np.array(["a", "b"])))
    assert got.images.shape == (2, 3, 4, 1) and got.images.dtype == np.uint8
    np.testing.assert_array_equal(got.images[..., 0], x)
    assert got.labels.tolist() == ["a", "b"] and got.files == [] and got.modes == {}
    assert got.original_sizes == {"3x4": 2}
    floats = read_npz(npz(tmp_path, x=np.ones((2, 3, 4, 3), np.int64), y=np.zeros((2, 2))))
    assert floats.images.dtype == np.float32 and floats.labels.shape == (2, 2)
    assert "Converted the int64 pixels to float32." in floats.notes
    unlabeled = read_npz(npz(tmp_path, x=x), labeled=False)
    assert unlabeled.labels is None


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((2, 3, 3))}, r"has no array 'x' \(the images\); it holds \['images'\].*np.savez"),
    ({"x": np.zeros((2, 3, 3))}, r"has no array 'y' \(the labels or targets.*it holds \['x'\]"),
    ({"x": np.zeros((2, 3, 3)), "y": np.zeros(3)}, r"x holds 2 images, y has shape \(3,\)"),
    ({"x": np.zeros((2, 3)), "y": np.zeros(2)}, r"has shape \(2, 3\); expected \(N, H, W\) or \(N, H, W, C\)"),
    ({"x": np.zeros((2, 3, 3, 3, 3)), "y": np.zeros(2)}, r"has shape \(2, 3, 3, 3, 3\)"),
    ({"x": np.zeros((2, 3, 8, 8)), "y": np.zeros(2)}, r"channels first\? use np.moveaxis"),
    ({"x": np.array([[["a"]]]), "y": np.zeros(1)}, r"must hold numbers; got dtype <U1"),
    ({"x": np.array([[[1.0, np.nan]], [[0.0, 1.0]]]), "y": np.zeros(2)}, r"NaN or infinite values in 1 images"),
])
def test_npz_refusals(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        read_npz(npz(tmp_path, **arrays))


def test_npz_object_arrays_and_bad_files_are_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([np.zeros((2, 2)), np.zeros((3, 3))], dtype=object), y=np.zeros(2))
    with pytest.raises(DataError, match="'x' in .* holds Python objects \\(dtype=object\\)"):
        read_npz(path)
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="is not a valid .npz archive"):
        read_npz(tmp_path / "junk.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(DataError, match="holds a single array"):
        read_npz(tmp_path / "single.npz")
    with pytest.raises(DataError, match="File not found: .*missing.npz"):
        load_images(tmp_path / "missing.npz")


def test_from_arrays_checks_and_keeps_four_channels():
    x = np.zeros((3, 5, 5, 4), np.uint8)
    got = from_arrays(x, [1.0, 2.0, 3.0])
    assert got.images.shape == (3, 5, 5, 4) and got.source == "<array>" and got.labels.tolist() == [1, 2, 3]
    assert from_arrays(x[..., 0]).labels is None
    bools = from_arrays(np.ones((1, 2, 2), bool), [0])
    assert bools.images.dtype == np.uint8 and bools.images.max() == 255
    with pytest.raises(DataError, match=r"NaN or infinite values in 1 images \(e.g. image 2\)"):
        from_arrays(np.pad(np.full((1, 2, 2), np.inf), ((2, 0), (0, 0), (0, 0))), [0, 1, 2])
    with pytest.raises(DataError, match="dtype object"):
        from_arrays(np.array([None, None, None]).reshape(1, 1, 3), [0])
    with pytest.raises(DataError, match=r"need their labels or targets: pass y"):
        load_images(x)
    assert load_images(x, labeled=False).labels is None


# -- conform ------------------------------------------------------------------------


def test_conform_resizes_and_converts_channels():
    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    grey, notes = conform(rgb, (2, 3), 1)
    expected = Image.new("RGB", (1, 1), (200, 0, 0)).convert("L").getpixel((0, 0))
    assert grey.shape == (2, 2, 3, 1) and grey.dtype == np.uint8 and (grey == expected).all()
    assert notes == ["Resized 2 of 2 images to the requested 2x3.",
                     "Converted the images from 3 to 1 channels (RGB to L), as requested."]
    again, none = conform(grey, (2, 3), 1)
    assert again is grey and none == []
    replicated, _ = conform(np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1), (2, 2), 3)
    assert replicated[0, 1, 1].tolist() == [3, 3, 3]
    rgba = np.zeros((1, 2, 2, 4), np.float32)
    rgba[..., 3] = 0.5
    flattened, _ = conform(rgba, (2, 2), 3)
    assert flattened.dtype == np.float32 and np.allclose(flattened, 0.5)  # black half-covering white, in 0..1
    ramp = np.linspace(0, 1, 8, dtype=np.float32).reshape(1, 1, 8, 1)
    smaller, _ = conform(ramp, (1, 4), 1)
    assert smaller.dtype == np.float32 and np.all(np.diff(smaller[0, 0, :, 0]) > 0)


def test_is_image_source(tmp_path):
    assert is_image_source(tmp_path) and is_image_source(str(tmp_path))
    assert is_image_source(tmp_path / "missing.npz") and is_image_source("data.NPZ")
    assert is_image_source(np.zeros((2, 3, 3))) and is_image_source(np.zeros((2, 3, 3, 1)))
    assert not is_image_source(tmp_path / "table.csv") and not is_image_source(np.zeros((3, 3)))
    assert not is_image_source([[1, 2]]) and not is_image_source(None)
    assert set(IMAGE_SUFFIXES) == {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
