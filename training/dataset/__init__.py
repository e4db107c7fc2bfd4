"""Data layer: dataset JSON index, frame readers (files / LMDB), frame sampling, transforms, loaders."""

from training.dataset.dataset import DeepfakeDataset, collate_drop_none
from training.dataset.identity import identity_of
from training.dataset.index import VideoRecord, build_index, normalize_frame_path
from training.dataset.loaders import build_dataset, build_loader, build_transform, dataset_names
from training.dataset.readers import FileReader, FrameError, FrameNotFound, LmdbReader
from training.dataset.sampling import select_frames, video_seed
from training.dataset.transforms import FrameTransform

__all__ = [
    "DeepfakeDataset",
    "FileReader",
    "FrameError",
    "FrameNotFound",
    "FrameTransform",
    "LmdbReader",
    "VideoRecord",
    "build_dataset",
    "build_index",
    "build_loader",
    "build_transform",
    "collate_drop_none",
    "dataset_names",
    "identity_of",
    "normalize_frame_path",
    "select_frames",
    "video_seed",
]
