"""Preprocessing library: videos to aligned face crops, dataset JSON, LMDB and checks."""
