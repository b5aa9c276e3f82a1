"""Networks from plain, serialisable specs (:mod:`tandem.nets.spec`) and action distributions.

Importing this package registers the built-in blocks: one import line per block file.
"""

from tandem.nets import conv, hyper, impala_cnn, mlp, nature_cnn, recurrent, simba, soft_moe  # noqa: F401  (registers the blocks)
from tandem.nets.spec import (Block, BlockDef, NetworkSpec, initial_carry, is_recurrent, network, num_params, parse,
                              parse_spec, register_block)

__all__ = ["Block", "BlockDef", "NetworkSpec", "initial_carry", "is_recurrent", "network", "num_params", "parse", "parse_spec", "register_block"]
