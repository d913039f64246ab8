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

#: positions gathered per numpy call on the N-padded path: 2 M (16 MB per int64 temporary; 10k
#: windows of 200 bp), small enough that the index arithmetic's temporaries stay far below the
#: windows' own bytes
_CHUNK_POSITIONS = 2_000_000
#: bytes of windows gathered per call on the inside path (its temporaries are two uint8 copies):
#: 64 MB, 320k windows of 200 bp — large enough that the per-phase column selections stay few
_GATHER_BYTES = 64_000_000
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

    def contig_codes(self, chrom) -> np.ndarray:
        """int64 (N,) positions in the index of contig names ``chrom`` (every one in the index)."""
        import pandas as pd

        codes = pd.Categorical(np.asarray(chrom, object), categories=list(self.contigs)).codes.astype(np.int64)
        if (codes < 0).any():
            missing = np.asarray(chrom, object)[codes < 0][0]
            raise KeyError(f"{missing!r} is not a contig of {self.path.name}")
        return codes

    def windows(self, chrom: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
        """uint8 (N, length) bytes of the windows [start, start + length) on contigs ``chrom``
        (names, object (N,), every one in the index; or int (N,) positions in the index, as
        :meth:`contig_codes` gives); positions before 0 or past a contig's end are ``N``. Bytes are
        as in the file (case kept)."""
        n = len(start)
        out = np.empty((n, length), np.uint8)
        if n == 0:
            return out
        chrom = np.asarray(chrom)
        which = chrom.astype(np.int64) if chrom.dtype.kind in "iu" else self.contig_codes(chrom)
        table = np.array([[c.length, c.offset, c.line_bases, c.line_bytes] for c in self.contigs.values()],
                         np.int64)
        start = np.asarray(start, np.int64)
        contig = table[which]
        inside = (start >= 0) & (start + length <= contig[:, 0])
        done = np.zeros(n, bool)
        step = max(1, _GATHER_BYTES // max(length, 1))  # bounds the gathered spans' temporaries
        for line_bases, line_bytes in {(int(b), int(B)) for b, B in table[:, 2:]}:
            layout = np.flatnonzero(inside & (contig[:, 2] == line_bases) & (contig[:, 3] == line_bytes))
            for lo in range(0, len(layout), step):
                rows = layout[lo:lo + step]
                filled = self._gather_inside(out, rows, contig[rows, 1], start[rows], length, line_bases, line_bytes)
                done[filled] = True
        rest = np.flatnonzero(~done)
        if len(rest):  # windows past a contig's edge (and the last few bytes of the file): N-padded
            out[rest] = self._gather_padded(contig[rest], start[rest], length)
        return out

    def _gather_inside(self, out, rows, offset, start, length, line_bases, line_bytes) -> np.ndarray:
        """Fill ``out[rows]`` with windows wholly inside contigs of one line layout; returns the rows
        filled. Each window's bytes, line breaks included, are one contiguous span of the file: the
        spans are gathered as rows of a sliding view of the memory map (one copy, no per-base index
        arithmetic), then the line-break bytes are dropped by one column selection per phase
        (position within its line), as every window of a phase has its breaks at the same columns."""
        from numpy.lib.stride_tricks import sliding_window_view

        data = self.data
        phase = start % line_bases
        first = offset + (start // line_bases) * line_bytes + phase
        breaks = line_bytes - line_bases
        span = min(length + ((length - 1) // line_bases + 1) * breaks, len(data))
        fits = first + span <= len(data)
        rows, phase, first = rows[fits], phase[fits], first[fits]
        order = np.argsort(phase, kind="stable")
        rows, phase, first = rows[order], phase[order], first[order]
        spans = sliding_window_view(data, span)[first]  # (n, span) copy; np.take on the view is far slower
        gathered = np.empty((len(rows), length), np.uint8)
        crosses = (phase + length - 1) // line_bases > 0
        plain = np.flatnonzero(~crosses)  # a window within one line (all of them in an unwrapped FASTA)
        gathered[plain] = spans[plain, :length]
        crossing = np.flatnonzero(crosses)
        if len(crossing):
            column = np.arange(length, dtype=np.int64)
            phases, bounds = np.unique(phase[crossing], return_index=True)
            bounds = np.append(bounds, len(crossing))
            for p, lo, hi in zip(phases.tolist(), bounds[:-1], bounds[1:]):
                sel = crossing[lo:hi]  # contiguous: rows are sorted by phase
                np.take(spans[sel[0]:sel[-1] + 1], column + ((p + column) // line_bases) * breaks, axis=1,
                        out=gathered[sel[0]:sel[-1] + 1])
        out[rows] = gathered
        return rows

    def _gather_padded(self, contig: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
        """Windows by per-base index arithmetic, ``N`` outside the contig: the general, slower path."""
        n = len(start)
        out = np.empty((n, length), np.uint8)
        step = max(1, _CHUNK_POSITIONS // max(length, 1))
        rel = np.arange(length, dtype=np.int64)
        data = self.data
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            part = contig[lo:hi]
            pos = start[lo:hi, None] + rel  # (n, length)
            inside = (pos >= 0) & (pos < part[:, 0:1])
            pos = np.clip(pos, 0, np.maximum(part[:, 0:1] - 1, 0))
            lb = part[:, 2:3]
            byte = part[:, 1:2] + (pos // lb) * part[:, 3:4] + pos % lb
            chunk = data[byte]
            chunk[~inside] = ord("N")
            out[lo:hi] = chunk
        return out


def reverse_complement_bytes(windows: np.ndarray) -> np.ndarray:
    """uint8 (N, L) window bytes → their reverse complements (the other strand, read 5'→3')."""
    return BYTE_COMPLEMENT[windows][:, ::-1]
