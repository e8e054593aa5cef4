"""Text joined from several places of a file (continuation lines), mapped back to file positions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PiecedText:
    text: str
    pieces: list[tuple[int, int, int]]  # (offset in text, file line, file column), 1-based

    def position(self, offset: int) -> tuple[int, int]:
        """The file line and column of `text[offset]`."""
        start, line, column = self.pieces[0]
        for piece in self.pieces:
            if piece[0] <= offset:
                start, line, column = piece
        return line, column + offset - start
