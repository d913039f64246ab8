"""A reference genome read through its FASTA index, for cutting windows around BED intervals.

The ``.fai`` index (samtools' format: name, length, byte offset, bases per line, bytes per line) is
read, or built where it is missing, by pyfaidx. Windows are then cut from a read-only memory map of
the FASTA: a window's bytes are gathered by index arithmetic on the line layout, thousands of windows
per numpy call, so memory does not grow with the genome (only the pages a window touches are read)
and no per-window Python fetch is made. pyfaidx's own ``fetch`` does the same job one window at a
time: ``bench/genome_windows.py`` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biodl.errors import UserError

#: positions gathered per numpy call: 2 M (16 MB per int64 temporary; 10k windows of 200 bp), small
#: enough that the index arithmetic's temporaries stay far below the windows' own bytes
_CHUNK_POSITIONS = 2_000_000
#: byte → its complement base (case kept; any other byte, N included, unchanged)
BYTE_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTUacgtu", b"TGCAAtgcaa"):
    BYTE_COMPLEMENT[_a] = _b


@dataclass(frozen=True)
class Contig:
    name: str
    length: int
    offset: int
    line_bases: int
    line_bytes: int


class Genome:
    """A FASTA genome (uncompressed) and its ``.fai`` index; built with pyfaidx when absent."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"genome FASTA not found: {self.path}")
        if self.path.suffix.lower() in (".gz", ".bgz", ".bz2", ".xz", ".zip"):
            raise UserError(f"{self.path}: the genome must be an uncompressed FASTA (windows are cut from a "
                            "memory map of it); decompress it first")
        self.contigs = self._index()
        self._memmap = None

    def _index(self) -> dict[str, Contig]:
        import pyfaidx

        try:
            # reads an existing index (rebuilt when the FASTA is newer), builds and writes one next to
            # the FASTA otherwise
            faidx = pyfaidx.Faidx(str(self.path))
            index = faidx.index
            faidx.close()
        except (pyfaidx.FastaIndexingError, pyfaidx.IndexNotFoundError, OSError, ValueError) as exc:
            raise UserError(f"{self.path}: cannot index the genome FASTA ({str(exc).splitlines()[0]})") from None
        contigs = {name: Contig(name, int(r.rlen), int(r.offset), int(r.lenc), int(r.lenb))
                   for name, r in index.items()}
        if not contigs:
            raise UserError(f"{self.path}: the genome FASTA has no sequences")
        return contigs

    @property
    def data(self) -> np.ndarray:
        if self._memmap is None:
            self._memmap = np.memmap(self.path, np.uint8, mode="r")
        return self._memmap

    def windows(self, chrom: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
        """uint8 (N, length) bytes of the windows [start, start + length) on contigs ``chrom``
        (object (N,), every name in the index); positions before 0 or past a contig's end are
        ``N``. Bytes are as in the file (case kept)."""
        n = len(start)
        out = np.empty((n, length), np.uint8)
        if n == 0:
            return out
        names = list(self.contigs)
        code = {name: i for i, name in enumerate(names)}
        table = np.array([[c.length, c.offset, c.line_bases, c.line_bytes] for c in self.contigs.values()],
                         np.int64)
        which = np.fromiter((code[c] for c in chrom), np.int64, n)
        step = max(1, _CHUNK_POSITIONS // max(length, 1))
        rel = np.arange(length, dtype=np.int64)
        data = self.data
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            contig = table[which[lo:hi]]
            pos = np.asarray(start[lo:hi], np.int64)[:, None] + rel  # (n, length)
            inside = (pos >= 0) & (pos < contig[:, 0:1])
            pos = np.clip(pos, 0, np.maximum(contig[:, 0:1] - 1, 0))
            lb = contig[:, 2:3]
            byte = contig[:, 1:2] + (pos // lb) * contig[:, 3:4] + pos % lb
            chunk = data[byte]
            chunk[~inside] = ord("N")
            out[lo:hi] = chunk
        return out


def reverse_complement_bytes(windows: np.ndarray) -> np.ndarray:
    """uint8 (N, L) window bytes → their reverse complements (the other strand, read 5'→3')."""
    return BYTE_COMPLEMENT[windows][:, ::-1]
