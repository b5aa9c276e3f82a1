"""Networks from plain, serialisable specs. Shared by every algorithm."""

from tandem.nets.mlp import MLP, MLPSpec

__all__ = ["MLP", "MLPSpec"]
