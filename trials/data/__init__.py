"""Datasets as normalised in-memory tensors, split into train and validation.

A trial trains small CNNs for a few epochs, so feeding them from a DataLoader with
per-image transforms would cost more than the training itself.  Everything here ends in
plain tensors that fit in (GPU) memory.  The driver loads them once per search and the
trials get them through Ray's object store; the decoded files stay cached per process
(see ``_RAW``).

The official test split is kept behind ``load_test`` (and ``DataConfig.test_accuracy``, which
``load_data`` honours for ablations) so that a search cannot select architectures on it: the
test accuracy is recorded beside validation, never an objective a sampler or scheduler sees.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from search_space.errors import FusionscopeError
from trials.checked import Checked, bounded, from_mapping

CACHE_DIR = Path.home() / ".cache" / "fusionscope"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_IDX_FILES = {  # split -> (images file, labels file)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class DataError(FusionscopeError, ValueError):
    """A data problem the user can fix in the config or on disk; the message says which."""


@dataclass(frozen=True)
class DataConfig(Checked):
    """What to load; hashable, and checked on construction like every config section (types and
    ranges from the annotations, ``trials.checked``), so a bad config fails before anything loads."""

    section = "data"
    dataset: str = "fashion-mnist"  # a name of the data-set table, DATASETS
    root: str | None = None
    subset: int | None = bounded(None, min=1)  # training images drawn from the training split (seeded)
    val_fraction: float = bounded(0.1, min=0, below=1)
    image_size: int | None = bounded(None, min=1)
    seed: int = bounded(0, min=0)
    download: bool = False
    # training-time augmentation, one of AUGMENTS (crop_flip: the CIFAR papers' pad-4 crop + flip)
    augment: str = "none"
    # also load the official test split, so every design's test accuracy at its last epoch is
    # recorded (test_accuracy_replicates) for ablations; never an objective, never seen by a sampler
    test_accuracy: bool = False
    # evaluate on this many test images (a seeded subset, for quick checks); None: the whole split
    test_subset: int | None = bounded(None, min=1)  # test images drawn from the test split (seeded)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.augment not in AUGMENTS:
            raise DataError(f"augment {self.augment!r} is not supported; use one of {', '.join(AUGMENTS)}")
        dataset_entry(self.dataset)  # DataError naming the data sets of the table


@dataclass
class TensorData:
    """The train and validation tensors of one config, plus what a model needs to fit them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int
    in_channels: int
    image_size: int
    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"  # applied to training batches by the training loops (``augmenter``)
    # the official test split (``DataConfig.test_accuracy``), normalised like training: evaluated once,
    # after the last epoch, and recorded beside validation; nothing selects on it
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> TensorData:
        """Copy to ``device`` once, so that training loops index tensors already there."""
        return dataclasses.replace(
            self,
            x_train=self.x_train.to(device),
            y_train=self.y_train.to(device),
            x_val=self.x_val.to(device),
            y_val=self.y_val.to(device),
            x_test=None if self.x_test is None else self.x_test.to(device),
            y_test=None if self.y_test is None else self.y_test.to(device),
        )


def from_dict(d: Mapping[str, Any]) -> DataConfig:
    """Build a config from the ``data:`` mapping of a YAML file, rejecting typos loudly."""
    return from_mapping(DataConfig, d)


def load_data(cfg: DataConfig) -> TensorData:
    """The training split of ``cfg`` cut into train and validation.  The test set is read only
    with ``cfg.test_accuracy`` (then as ``load_test`` reads it), for a last-epoch evaluation that
    is recorded but never selected on."""
    raw = _raw(cfg, "train")
    train_idx, val_idx = _split_indices(cfg, len(raw.labels))
    x_train = _to_float(raw, train_idx, cfg.image_size)
    x_val = _to_float(raw, val_idx, cfg.image_size)
    mean, std = _stats(x_train)
    x_test, y_test = _test_split(cfg, x_train, mean, std) if cfg.test_accuracy else (None, None)
    return TensorData(
        x_train=_normalise(x_train, mean, std),
        y_train=raw.labels[train_idx],
        x_val=_normalise(x_val, mean, std),
        y_val=raw.labels[val_idx],
        num_classes=raw.num_classes,
        in_channels=x_train.shape[1],
        image_size=x_train.shape[2],
        name=cfg.dataset,
        mean=tuple(mean.tolist()),
        std=tuple(std.tolist()),
        augment=cfg.augment,
        x_test=x_test,
        y_test=y_test,
    )


#: (classes, channels, image size) of the built-in data sets, known without reading their files
SHAPES = {"fashion-mnist": (10, 1, 28), "cifar10": (10, 3, 32), "cifar100": (100, 3, 32)}


def data_shape(cfg: DataConfig) -> tuple[int, int, int]:
    """(classes, channels, image size) that models for ``cfg`` are built for; an image folder is read."""
    if cfg.dataset in SHAPES:
        classes, channels, size = SHAPES[cfg.dataset]
        return classes, channels, cfg.image_size or size
    data = load_data(cfg)
    return data.num_classes, data.in_channels, data.image_size


def load_test(cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The official test split, normalised exactly as ``load_data(cfg)`` normalises training.

    Only for a final evaluation of designs already chosen on the validation split.  The
    training statistics are recomputed rather than passed in, so a caller cannot pair a
    test set with the statistics of a different subset or seed.
    """
    raw_train = _raw(cfg, "train")
    train_idx, _ = _split_indices(cfg, len(raw_train.labels))
    x_train = _to_float(raw_train, train_idx, cfg.image_size)
    mean, std = _stats(x_train)
    return _test_split(cfg, x_train, mean, std)


def _test_split(cfg: DataConfig, x_train: torch.Tensor, mean: torch.Tensor,
                std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The test split (``cfg.test_subset`` of it, seeded), shaped like ``x_train``, normalised with its statistics."""
    raw_test = _raw(cfg, "test")
    n = len(raw_test.labels)
    idx = torch.arange(n)
    if cfg.test_subset is not None:
        if cfg.test_subset > n:
            raise DataError(f"{cfg.dataset}: test_subset {cfg.test_subset} is larger than its {n} test images")
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))[:cfg.test_subset]
    x_test = _to_float(raw_test, idx, cfg.image_size)
    x_test = _match_channels(cfg, x_test, x_train.shape[1])
    if x_test.shape[2:] != x_train.shape[2:]:
        raise DataError(
            f"{cfg.dataset}: test images are {_hw(x_test)} but training images are {_hw(x_train)}; "
            "set image_size to resize both"
        )
    return _normalise(x_test, mean, std), raw_test.labels[idx]


# --- augmentation ---------------------------------------------------------------------


#: Padding of ``crop_flip``: scFusion §A ("4 pixels are padded on four directions and then a 32×32
#: patch is cropped"), the standard CIFAR augmentation CFN Table 2 and SCFF also use.
CROP_PAD = 4
#: The augmentation stream of replicate seed s is seeded with ``s ^ AUGMENT_SEED_XOR``: its own
#: generator, never the data-order generator's stream (seeded with s) nor the model's.
AUGMENT_SEED_XOR = 0x5DEECE66D


def crop_flip(x: torch.Tensor, gen: torch.Generator, fill: torch.Tensor, pad: int = CROP_PAD) -> torch.Tensor:
    """Pad-``pad`` random crop and random horizontal flip of a batch, in three batched tensor ops.

    ``x`` is N×C×H×W on any device, ``gen`` a generator on that device, ``fill`` the C values a
    black pixel has after normalisation (the papers pad the raw image with zeros).  Each image
    gets its own offset in [0, 2·pad]² and flip (p = 0.5); the draws depend only on N, so two
    networks fed the same batches from generators of one seed see the same augmented images.
    """
    n, c, h, w = x.shape
    padded = fill.to(x.dtype).view(1, c, 1, 1).expand(n, c, h + 2 * pad, w + 2 * pad).clone()
    padded[:, :, pad:pad + h, pad:pad + w] = x
    offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=gen, device=x.device)
    flip = torch.rand(n, generator=gen, device=x.device) < 0.5
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # n×h
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # n×w
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    # advanced indices around the channel slice put their dims first: n×h×w×c, i.e. channels_last
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


#: ``data.augment`` -> the batch transform (None: batches are used as they are)
AUGMENTS: dict[str, Any] = {"none": None, "crop_flip": crop_flip}


class Augmenter:
    """One replicate's augmentation stream: ``augmenter(xb)`` is the augmented batch."""

    def __init__(self, transform: Any, seed: int, fill: torch.Tensor, device: torch.device) -> None:
        self.transform, self.fill = transform, fill.to(device)
        self.gen = torch.Generator(device=device).manual_seed(seed ^ AUGMENT_SEED_XOR)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(x, self.gen, self.fill)


def augmenter(data: TensorData, seed: int, device: torch.device | str) -> Augmenter | None:
    """The augmentation of replicate ``seed`` for ``data.augment`` on ``device``; None for ``none``.

    Seeded by the replicate seed alone (not the spec, not the model's initialisation), so every
    design of one replicate sees the same augmented batches and paired comparisons stay paired.
    """
    transform = AUGMENTS[data.augment]
    if transform is None:
        return None
    fill = -torch.tensor(data.mean) / torch.tensor(data.std)  # raw pixel 0, normalised
    return Augmenter(transform, seed, fill, torch.device(device))


# --- raw files ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """One decoded split: uint8 N×C×H×W, or a list of C×H×W when the image sizes differ."""

    images: torch.Tensor | list[torch.Tensor]
    labels: torch.Tensor
    num_classes: int
    files: tuple[str, ...] = ()  # per image, only where images come from separate files


#: Decoded splits by (dataset, root, split).  One process may load the same files many times
#: (several ``run_search`` calls from a notebook, the benchmarks, the tests), so they are
#: decoded once per process; every config (subset, seed, image_size) is cut from these
#: arrays, which are never modified.
_RAW: dict[tuple[str, str | None, str], _Raw] = {}


def _raw(cfg: DataConfig, split: str) -> _Raw:
    key = (cfg.dataset, cfg.root, split)
    if key not in _RAW:
        _RAW[key] = dataset_entry(cfg.dataset).load(cfg, split)
    return _RAW[key]


def _load_fashion_mnist(cfg: DataConfig, split: str) -> _Raw:
    """Read the IDX files directly where they exist, so a Debian install needs no download."""
    root = Path(cfg.root) if cfg.root is not None else DEBIAN_FASHION_MNIST
    if all((root / name).is_file() for names in _IDX_FILES.values() for name in names):
        images_file, labels_file = (root / name for name in _IDX_FILES[split])
        images = _read_idx(images_file, _IDX_IMAGES_MAGIC)
        labels = _read_idx(labels_file, _IDX_LABELS_MAGIC)
        if len(images) != len(labels):
            raise DataError(f"{images_file} holds {len(images)} images but {labels_file} {len(labels)} labels")
        return _Raw(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), 10)

    import torchvision

    fallback = Path(cfg.root) if cfg.root is not None else CACHE_DIR / "fashion-mnist"
    try:
        ds = torchvision.datasets.FashionMNIST(fallback, train=split == "train", download=cfg.download)
    except (RuntimeError, OSError) as e:
        raise DataError(
            f"fashion-mnist: no IDX .gz files in {root} and no torchvision copy in "
            f"{fallback / 'FashionMNIST' / 'raw'} ({e}); install them with "
            "`apt-get install dataset-fashion-mnist`, or set `download: true` to let torchvision fetch them"
        ) from e
    return _Raw(ds.data.unsqueeze(1), ds.targets.long(), 10)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Decode a gzipped IDX file of unsigned bytes, checking its header against what it must hold."""
    try:
        with gzip.open(path, "rb") as f:
            buf = bytearray(f.read())  # writable, so torch can share it without copying
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from e
    ndim = magic & 0xFF
    if len(buf) < 4 * (1 + ndim) or int.from_bytes(buf[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file of {ndim}-d unsigned bytes (no magic number {magic:#010x})")
    shape = tuple(int(n) for n in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(buf, dtype=np.uint8, offset=4 * (1 + ndim))
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} holds {data.size} bytes of data but its header promises shape {shape}")
    return data.reshape(shape)


def _load_cifar(class_name: str, cfg: DataConfig, split: str) -> _Raw:
    """Go through torchvision so that its md5 checks vouch for the pickled batches.  torchvision is
    imported only here: it (and the torch._dynamo it pulls in) doubles the import time of a Ray
    worker that trains on Fashion-MNIST."""
    import torchvision

    cls = getattr(torchvision.datasets, class_name)
    root = Path(cfg.root) if cfg.root is not None else CACHE_DIR
    try:
        ds = cls(root, train=split == "train", download=cfg.download)
    except (RuntimeError, OSError) as e:
        raise DataError(
            f"{cfg.dataset}: no usable {cls.base_folder}/ folder in {root} ({e}); "
            f"set root to the folder that contains {cls.base_folder}/, or set `download: true`"
        ) from e
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # torchvision keeps HWC
    return _Raw(images, torch.tensor(ds.targets, dtype=torch.long), len(ds.classes))


def _load_imagefolder(cfg: DataConfig, split: str) -> _Raw:
    """Decode every image up front; class indices always follow the training folder's classes."""
    base = Path(cfg.dataset.removeprefix(IMAGEFOLDER + ":"))
    if not base.is_dir():
        raise DataError(f"imagefolder: {base} does not exist or is not a folder")
    has_train = (base / "train").is_dir()
    train_dir = base / "train" if has_train else base
    if split == "test" and not (has_train and (base / "test").is_dir()):
        raise DataError(
            f"imagefolder: no test/ folder in {base} (expected {base}/train/<class>/ and {base}/test/<class>/)"
        )
    import torchvision

    try:
        ds = train_ds = torchvision.datasets.ImageFolder(train_dir)
        if split == "test":
            ds = torchvision.datasets.ImageFolder(base / "test", allow_empty=True)
    except OSError as e:  # FileNotFoundError: no class folders, or no images in them
        raise DataError(f"imagefolder: {e}") from e
    classes = train_ds.classes
    extra = sorted(set(ds.classes) - set(classes))
    if extra:
        raise DataError(f"imagefolder: {base}/test has classes {extra} that {train_dir} lacks")

    files = tuple(p for p, _ in ds.samples)
    images = [_decode(p) for p in files]
    if any(im.shape[0] == 3 for im in images):
        images = [im.expand(3, -1, -1) for im in images]
    labels = torch.tensor([classes.index(ds.classes[i]) for _, i in ds.samples], dtype=torch.long)
    if len({im.shape for im in images}) == 1:
        return _Raw(torch.stack(images), labels, len(classes), files)
    return _Raw(images, labels, len(classes), files)


def _decode(path: str) -> torch.Tensor:
    """Keep grayscale images single-channel; everything else becomes RGB."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            gray = img.mode in ("1", "L", "LA", "I", "I;16", "F")
            arr = np.array(img.convert("L" if gray else "RGB"))
    except OSError as e:
        raise DataError(f"imagefolder: cannot decode {path}: {e}") from e
    return torch.from_numpy(arr).unsqueeze(0) if gray else torch.from_numpy(arr).permute(2, 0, 1)


# --- the data sets: one table -----------------------------------------------------------


@dataclass(frozen=True)
class DatasetEntry:
    """One data set a config may name: ``load(cfg, split)`` decodes a split ("train" or "test")
    into uint8 images; ``train_size`` (known without loading) lets the config check its split
    before anything is read.  Adding a data set = its loader, one entry here and a test in
    ``tests/trials/test_data.py`` on small files written in its real format."""

    name: str
    load: Callable[[DataConfig, str], _Raw]
    train_size: int | None
    about: str
    takes_path: bool = False  # named ``<name>:<path>``


IMAGEFOLDER = "imagefolder"
DATASETS: dict[str, DatasetEntry] = {d.name: d for d in (
    DatasetEntry("fashion-mnist", _load_fashion_mnist, 60000,
                 "Zalando's Fashion-MNIST, 28×28 grayscale, 10 classes (the default; Debian's dataset-fashion-mnist)"),
    DatasetEntry("cifar10", functools.partial(_load_cifar, "CIFAR10"), 50000,
                 "CIFAR-10, 32×32 colour, 10 classes (torchvision's files under data.root)"),
    DatasetEntry("cifar100", functools.partial(_load_cifar, "CIFAR100"), 50000,
                 "CIFAR-100, 32×32 colour, 100 classes (torchvision's files under data.root)"),
    DatasetEntry(IMAGEFOLDER, _load_imagefolder, None,
                 "a folder of class folders (train/ and test/ inside it, or the classes directly)", takes_path=True),
)}
#: how a config names each data set, for messages and the README
SUPPORTED = tuple(f"{d.name}:<path>" if d.takes_path else d.name for d in DATASETS.values())


def dataset_entry(name: str) -> DatasetEntry:
    """The table's entry for ``data.dataset`` (``imagefolder:<path>`` names the folder entry)."""
    head, colon, path = name.partition(":") if isinstance(name, str) else ("", "", "")
    entry = DATASETS.get(head if colon else name)
    if entry is None or entry.takes_path != bool(colon) or (colon and not path):
        raise DataError(f"dataset {name!r} is not supported; use one of {', '.join(SUPPORTED)}")
    return entry


def split_sizes(size: int, val_fraction: float) -> tuple[int, int]:
    """(training, validation) images of a split of ``size``: the one rule, used by the config's
    early check and by the split itself.  Any validation share keeps at least one image."""
    n_val = round(val_fraction * size)
    if val_fraction > 0:
        n_val = max(n_val, 1)
    return size - n_val, n_val


# --- split and normalisation ----------------------------------------------------------


def _split_indices(cfg: DataConfig, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One seeded permutation picks the subset and the validation part, so both follow the seed."""
    size = n if cfg.subset is None else cfg.subset
    if size > n:
        raise DataError(f"{cfg.dataset}: subset {size} is larger than its {n} training images")
    _, n_val = split_sizes(size, cfg.val_fraction)
    if n_val >= size:
        raise DataError(
            f"{cfg.dataset}: subset {size} with val_fraction {cfg.val_fraction} leaves no training images"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))[:size]
    return perm[n_val:], perm[:n_val]


def _to_float(raw: _Raw, idx: torch.Tensor, image_size: int | None) -> torch.Tensor:
    """Scale the selected images to [0, 1] and, if asked, to ``image_size`` squared."""
    if isinstance(raw.images, list):
        if image_size is None:
            first = raw.images[0].shape
            j = next(j for j, im in enumerate(raw.images) if im.shape != first)
            raise DataError(
                f"imagefolder: images differ in size ({raw.files[0]} is {_hw(raw.images[0])}, "
                f"{raw.files[j]} is {_hw(raw.images[j])}); set image_size to resize them all"
            )
        resized = [_resize(raw.images[i].unsqueeze(0).float() / 255, image_size) for i in idx.tolist()]
        return torch.cat(resized) if resized else torch.empty(0, raw.images[0].shape[0], image_size, image_size)
    x = raw.images[idx].float() / 255
    return x if image_size is None else _resize(x, image_size)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std; a constant channel gets std 1 rather than a division by 0."""
    std, mean = torch.std_mean(x, dim=(0, 2, 3), correction=0)
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean[:, None, None]) / std[:, None, None]


def _match_channels(cfg: DataConfig, x: torch.Tensor, channels: int) -> torch.Tensor:
    """Colour test images may not meet a grayscale model; grayscale ones can meet a colour one."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    raise DataError(f"{cfg.dataset}: the test images are colour but the training images are grayscale")


def _hw(x: torch.Tensor) -> str:
    return f"{x.shape[-2]}×{x.shape[-1]}"
