"""Export scikit-learn's bundled digits to PNG folders: datasets/digits/<class>/<index>.png.

The 1797 8x8 images of handwritten digits (values 0..16) become 8-bit greyscale
PNGs with pixel = round(v * 255 / 16), one folder per digit, each file named by
its sample index (sample 3, a "3", is digits/3/0003.png). Deterministic: the
folder is rebuilt from scratch, and Pillow writes no timestamp into a PNG.

    python datasets/make_digits.py
"""

import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent / "digits"


def main() -> None:
    digits = load_digits()
    pixels = np.rint(digits.images * 255 / 16).astype(np.uint8)
    shutil.rmtree(OUT, ignore_errors=True)
    for index, (image, label) in enumerate(zip(pixels, digits.target)):
        folder = OUT / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:04d}.png", optimize=True)
    print(f"wrote {len(pixels)} images to {OUT}")


if __name__ == "__main__":
    main()
