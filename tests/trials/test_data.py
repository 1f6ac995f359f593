"""trials.data on the real Debian Fashion-MNIST files and on small files in each real format."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from trials.checked import ConfigError
from trials.data import DEBIAN_FASHION_MNIST, DataConfig, DataError, from_dict, load_data, load_test

IDX_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
needs_debian = pytest.mark.skipif(
    not all((DEBIAN_FASHION_MNIST / n).is_file() for n in IDX_NAMES),
    reason=f"Fashion-MNIST IDX files not in {DEBIAN_FASHION_MNIST} (apt-get install dataset-fashion-mnist)",
)


def unnormalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Back to uint8 pixel values, to check data and statistics at once."""
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    return ((x * s + m) * 255).round().to(torch.uint8)


# --- Fashion-MNIST --------------------------------------------------------------------


@needs_debian
def test_fashion_mnist_subset_split_and_normalisation() -> None:
    d = load_data(DataConfig(subset=500, val_fraction=0.2))
    assert d.x_train.shape == (400, 1, 28, 28) and d.x_val.shape == (100, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert (d.num_classes, d.in_channels, d.image_size, d.name) == (10, 1, 28, "fashion-mnist")
    labels = torch.cat([d.y_train, d.y_val])
    assert labels.min() >= 0 and labels.max() <= 9 and len(labels.unique()) == 10
    mean, std = d.x_train.mean(dim=(0, 2, 3)), d.x_train.std(dim=(0, 2, 3), correction=0)
    assert torch.allclose(mean, torch.zeros(1), atol=1e-5) and torch.allclose(std, torch.ones(1), atol=1e-5)
    assert 0.2 < d.mean[0] < 0.4 and 0.25 < d.std[0] < 0.45  # Fashion-MNIST's known ~0.29 / ~0.35

    again = load_data(DataConfig(subset=500, val_fraction=0.2))
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_val, d.y_val)
    other = load_data(DataConfig(subset=500, val_fraction=0.2, seed=1))
    assert not torch.equal(other.x_val, d.x_val)


@needs_debian
def test_fashion_mnist_test_split_uses_train_statistics() -> None:
    cfg = DataConfig(subset=500, val_fraction=0.2, seed=3)
    d = load_data(cfg)
    x, y = load_test(cfg)
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,) and y.dtype == torch.int64
    with gzip.open(DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz") as f:
        first = np.frombuffer(bytearray(f.read(16 + 28 * 28)[16:]), dtype=np.uint8).reshape(1, 28, 28)
    with gzip.open(DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz") as f:
        first_label = f.read(9)[8]
    assert torch.equal(unnormalise(x[0], d.mean, d.std), torch.from_numpy(first))
    assert y[0] == first_label


def write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def small_idx_root(root: Path, n_train: int = 30, n_test: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", 0x803, rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 0x801, np.arange(n) % 10)
    return root


def test_fashion_mnist_reads_idx_files_under_a_given_root(tmp_path: Path) -> None:
    d = load_data(DataConfig(root=str(small_idx_root(tmp_path)), val_fraction=0.0, image_size=14))
    assert d.x_train.shape == (30, 1, 14, 14) and d.x_val.shape == (0, 1, 14, 14)
    assert sorted(d.y_train.tolist()) == sorted(np.arange(30) % 10)
    x, y = load_test(DataConfig(root=str(tmp_path), val_fraction=0.0, image_size=14))
    assert x.shape == (5, 1, 14, 14) and y.tolist() == [0, 1, 2, 3, 4]


def test_fashion_mnist_bad_magic_names_the_file(tmp_path: Path) -> None:
    small_idx_root(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", 0x803, np.zeros((30, 1, 1)))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz.*not an IDX file"):
        load_data(DataConfig(root=str(tmp_path)))


def test_fashion_mnist_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_data(DataConfig(root=str(tmp_path)))
    assert str(tmp_path) in str(e.value)
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "download: true" in str(e.value)


# --- CIFAR ----------------------------------------------------------------------------


class Py2Pickler(pickle._Pickler):  # type: ignore[misc, name-defined]
    """Writes bytes as Python 2 ``str``, as CIFAR's real (Python 2) pickles hold them.

    torchvision unpickles with ``encoding="latin1"``, which turns those into ``str``:
    ``b"data"`` keys written by a plain Python 3 pickler would stay bytes and not be found.
    """

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def write_py2_pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)


def cifar_batch(rng: np.random.Generator, n: int, num_classes: int, label_keys: list[bytes]) -> dict:
    batch = {
        b"batch_label": b"synthetic batch",
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"img_%d.png" % i for i in range(n)],
    }
    batch.update({k: rng.integers(0, num_classes, n).tolist() for k in label_keys})
    return batch


def write_cifar(root: Path, dataset: str) -> dict[str, dict]:
    """Small files in the real layout; returns the batches by file name."""
    rng = np.random.default_rng(1)
    if dataset == "cifar10":
        folder, keys, n = root / "cifar-10-batches-py", [b"labels"], 10
        batches = {f"data_batch_{i}": cifar_batch(rng, 8, n, keys) for i in range(1, 6)}
        batches["test_batch"] = cifar_batch(rng, 6, n, keys)
        meta = ("batches.meta", {b"label_names": [b"c%d" % i for i in range(n)], b"num_cases_per_batch": 8})
    else:
        folder, keys, n = root / "cifar-100-python", [b"fine_labels", b"coarse_labels"], 100
        batches = {"train": cifar_batch(rng, 40, n, keys), "test": cifar_batch(rng, 6, n, keys)}
        fine, coarse = [b"f%d" % i for i in range(n)], [b"k%d" % i for i in range(20)]
        meta = ("meta", {b"fine_label_names": fine, b"coarse_label_names": coarse})
    folder.mkdir(parents=True)
    for name, batch in {**batches, meta[0]: meta[1]}.items():
        write_py2_pickle(folder / name, batch)
    return batches


def trust_synthetic_md5s(monkeypatch: pytest.MonkeyPatch, cls: type, root: Path) -> None:
    """Point torchvision's md5 table at our files, so its integrity check still runs on them."""
    folder = root / cls.base_folder

    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    monkeypatch.setattr(cls, "train_list", [[name, md5(name)] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, md5(name)] for name, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(cls.meta["filename"])})


@pytest.mark.parametrize(
    ("dataset", "cls", "num_classes", "label_key", "test_file", "n_train"),
    [
        ("cifar10", torchvision.datasets.CIFAR10, 10, b"labels", "test_batch", 40),
        ("cifar100", torchvision.datasets.CIFAR100, 100, b"fine_labels", "test", 40),
    ],
)
def test_cifar_from_files_in_the_real_format(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dataset: str,
    cls: type,
    num_classes: int,
    label_key: bytes,
    test_file: str,
    n_train: int,
) -> None:
    batches = write_cifar(tmp_path, dataset)
    trust_synthetic_md5s(monkeypatch, cls, tmp_path)
    cfg = DataConfig(dataset=dataset, root=str(tmp_path), val_fraction=0.25)
    d = load_data(cfg)
    assert d.x_train.shape == (30, 3, 32, 32) and d.x_val.shape == (10, 3, 32, 32)
    assert (d.num_classes, d.in_channels, d.image_size) == (num_classes, 3, 32)
    train_labels = [y for name, b in batches.items() if name != test_file for y in b[label_key]]
    assert len(train_labels) == n_train
    assert sorted(torch.cat([d.y_train, d.y_val]).tolist()) == sorted(train_labels)

    x, y = load_test(cfg)
    test = batches[test_file]
    assert y.tolist() == test[label_key]
    # CIFAR rows are 1024 red, 1024 green, 1024 blue bytes, each plane row-major.
    assert torch.equal(unnormalise(x, d.mean, d.std), torch.from_numpy(test[b"data"]).reshape(-1, 3, 32, 32))


def test_cifar_files_failing_md5_are_refused(tmp_path: Path) -> None:
    write_cifar(tmp_path, "cifar10")
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_data(DataConfig(dataset="cifar10", root=str(tmp_path)))


def test_cifar_missing_names_root_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_data(DataConfig(dataset="cifar100", root=str(tmp_path)))
    assert str(tmp_path) in str(e.value) and "cifar-100-python" in str(e.value)


# --- image folders --------------------------------------------------------------------


def write_png(path: Path, size: tuple[int, int], mode: str = "L", value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 255 - value, 7)).save(path)


def test_imagefolder_train_and_test(tmp_path: Path) -> None:
    for c, cls in enumerate(["ant", "bee", "cat"]):
        for i in range(4):
            write_png(tmp_path / "train" / cls / f"{i}.png", (8, 8), value=40 * c + i)
        write_png(tmp_path / "test" / cls / "0.png", (8, 8), value=40 * c)
    write_png(tmp_path / "train" / "cat" / "rgb.png", (8, 8), mode="RGB", value=200)

    cfg = DataConfig(dataset=f"imagefolder:{tmp_path}", val_fraction=0.2)
    d = load_data(cfg)
    assert d.x_train.shape == (10, 3, 8, 8) and d.x_val.shape == (3, 3, 8, 8)
    assert d.num_classes == 3 and d.in_channels == 3 and d.image_size == 8
    assert sorted(torch.cat([d.y_train, d.y_val]).tolist()) == [0] * 4 + [1] * 4 + [2] * 5
    x, y = load_test(cfg)  # grayscale test images meet the RGB-trained statistics as RGB
    assert x.shape == (3, 3, 8, 8) and y.tolist() == [0, 1, 2]
    assert unnormalise(x, d.mean, d.std)[:, :, 0, 0].tolist() == [[0] * 3, [40] * 3, [80] * 3]


def test_imagefolder_without_train_folder_has_no_test(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        for i in range(3):
            write_png(tmp_path / cls / f"{i}.png", (5, 5), value=i)
    cfg = DataConfig(dataset=f"imagefolder:{tmp_path}", val_fraction=0.0)
    d = load_data(cfg)
    assert d.x_train.shape == (6, 1, 5, 5) and d.num_classes == 2
    with pytest.raises(DataError, match="no test/ folder"):
        load_test(cfg)


def test_imagefolder_mixed_sizes_need_image_size(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "small.png", (8, 8))
    write_png(tmp_path / "a" / "wide.png", (12, 6))
    write_png(tmp_path / "b" / "small2.png", (8, 8))
    with pytest.raises(DataError, match="image_size") as e:
        load_data(DataConfig(dataset=f"imagefolder:{tmp_path}"))
    assert "small.png is 8×8" in str(e.value) and "wide.png is 6×12" in str(e.value)
    d = load_data(DataConfig(dataset=f"imagefolder:{tmp_path}", image_size=4, val_fraction=0.0))
    assert d.x_train.shape == (3, 1, 4, 4)


def test_imagefolder_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=str(missing)):
        load_data(DataConfig(dataset=f"imagefolder:{missing}"))


# --- config ---------------------------------------------------------------------------


def test_from_dict_accepts_a_yaml_mapping() -> None:
    assert from_dict({"dataset": "cifar10", "subset": 1000, "val_fraction": 0}) == DataConfig(
        dataset="cifar10", subset=1000, val_fraction=0
    )


@pytest.mark.parametrize(
    ("d", "error", "pattern"),
    [
        ({"subsett": 10}, ConfigError, r"unknown key data.subsett; allowed keys in data: dataset, root, subset, val_fraction"),
        ({"val_fraction": 1.5}, ConfigError, r"data.val_fraction=1.5: must be less than 1"),
        ({"dataset": "mnist2"}, DataError, r"'mnist2'.*fashion-mnist, cifar10, cifar100, imagefolder:<path>"),
        ({"subset": "1e3"}, ConfigError, r"data.subset='1e3': expected int \(write 1000: YAML reads '1e3' as a string\)"),
        ({"subset": 0}, ConfigError, r"data.subset=0: must be at least 1"),
        ({"seed": True}, ConfigError, "data.seed=True: expected int"),
        ({"download": "yes"}, ConfigError, "data.download='yes': expected true or false"),
    ],
)
def test_from_dict_rejects(d: dict, error: type, pattern: str) -> None:
    """The data section is checked like every other section (``trials.checked``): the key, the value, why."""
    with pytest.raises(error, match=pattern):
        from_dict(d)


def test_to_moves_every_tensor(tmp_path: Path) -> None:
    d = load_data(DataConfig(root=str(small_idx_root(tmp_path))))
    moved = d.to("meta")
    assert {t.device.type for t in (moved.x_train, moved.y_train, moved.x_val, moved.y_val)} == {"meta"}
    assert d.x_train.device.type == "cpu" and moved.mean == d.mean


# --- the data-set table -----------------------------------------------------------------


def test_every_table_entry_is_a_config_choice_and_the_split_check_knows_its_size() -> None:
    from trials.config import ConfigError, SearchConfig
    from trials.data import DATASETS, SUPPORTED, dataset_entry

    assert SUPPORTED == ("fashion-mnist", "cifar10", "cifar100", "imagefolder:<path>")
    for name, entry in DATASETS.items():
        spelled = f"{name}:/some/folder" if entry.takes_path else name
        assert dataset_entry(spelled) is entry and DataConfig(dataset=spelled).dataset == spelled
        if entry.train_size is not None:  # the config refuses a split too small, before loading anything
            with pytest.raises(ConfigError, match=f"of {entry.train_size} images leaves"):
                SearchConfig(data=DataConfig(dataset=spelled, val_fraction=0.9999))
    for bad in ("imagefolder", "imagefolder:", "cifar10:/x", "mnist"):
        with pytest.raises(DataError, match="not supported; use one of fashion-mnist, cifar10"):
            dataset_entry(bad)
