"""Finding what is in a folder: image sequences (any padding, with gaps) and movies, via fileseq."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import fileseq


@dataclass
class Found:
    """One image sequence or one movie on disk."""

    kind: str  # "sequence" | "movie"
    name: str  # e.g. "plate_A.####.exr" or "clip.mov"
    folder: Path
    ext: str
    files: list[Path]  # in frame order
    frames: list[int] = field(default_factory=list)  # sequences only
    missing: list[int] = field(default_factory=list)  # frames absent between the first and the last
    padding: int = 0  # digits the frame numbers are padded to (1: not padded; 0: no frame number)
    pattern: str = ""  # fileseq's own spelling, e.g. "plate_A.1001-1002,1004-1005#.exr"

    @property
    def stem(self) -> str:
        """The name without frame numbers and extension, for matching to shots and EDL clips."""
        base = self.name.rsplit(".", 1)[0] if self.kind == "movie" else self.name.split("#")[0].split("@")[0]
        return base.rstrip("._- ")

    @property
    def frame_range(self) -> str:
        return f"{self.frames[0]}-{self.frames[-1]}" if self.frames else ""


def find(root: Path, image_extensions: list[str], movie_extensions: list[str]) -> list[Found]:
    """Every sequence and movie under `root` (recursively), sorted by path; other files are ignored."""
    images = {e.lower() for e in image_extensions}
    movies = {e.lower() for e in movie_extensions}
    if root.is_file():
        return _classify([fileseq.FileSequence(str(root))], images, movies)
    found: list[Found] = []
    for folder, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += _classify(fileseq.findSequencesOnDisk(folder), images, movies)
    return sorted(found, key=lambda f: (str(f.folder), f.name))


def _classify(sequences: list[fileseq.FileSequence], images: set[str], movies: set[str]) -> list[Found]:
    found = []
    for seq in sequences:
        ext = seq.extension().lstrip(".").lower()
        folder = Path(seq.dirname() or ".")
        if seq.basename().startswith("."):
            continue
        frames = list(seq.frameSet()) if seq.frameSet() is not None else []
        if ext in movies:
            found += [Found("movie", Path(path).name, folder, ext, [Path(path)]) for path in seq]
        elif ext in images:
            if not frames:  # one picture without a frame number: a sequence of one
                found.append(Found("sequence", Path(str(seq)).name, folder, ext, [Path(str(seq))]))
                continue
            width = seq.zfill()  # digits of the frame numbers; 1 means not padded
            missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
            name = f"{seq.basename()}{'#' * max(width, 1)}{seq.extension()}"
            files = [Path(seq.frame(frame)) for frame in frames]
            found.append(Found("sequence", name, folder, ext, files, frames, missing, width, str(seq)))
    return found
