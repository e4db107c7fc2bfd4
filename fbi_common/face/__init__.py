"""Faces for preprocessing and demo alike: dlib models, detection, choice policy, alignment, the crop path."""

from fbi_common.face.align import five_points, similarity_matrix, warp_image, warp_points
from fbi_common.face.crop import AlignedFace, FacePipeline, StageTimer
from fbi_common.face.detect import Face, FaceEngine
from fbi_common.face.models import ModelNotFoundError, face_models_dir, landmark_model_path
from fbi_common.face.policy import choose_faces, mask_overlap

__all__ = [
    "AlignedFace", "Face", "FaceEngine", "FacePipeline", "ModelNotFoundError", "StageTimer", "choose_faces",
    "face_models_dir", "five_points", "landmark_model_path", "mask_overlap", "similarity_matrix",
    "warp_image", "warp_points",
]  # fmt: skip
