"""biodl: reproducible deep learning for molecules, DNA and cell images.

Importing the package is cheap on purpose: torch, rdkit and deepchem are imported inside the
functions that need them, so ``biodl --help`` and ``import biodl`` stay fast.
"""

__version__ = "0.1.0"

from biodl.errors import UserError  # noqa: E402  (light: no third-party imports)

__all__ = ["UserError", "__version__"]
