"""MaskWatch trainer: labelled photos -> face crops -> compact CNN -> full-integer int8 TFLite + model card.

Needs the ``[train]`` extra (TensorFlow). Nothing in ``edge_agent`` or ``dashboard`` imports this package.
"""

__version__ = "0.1.0"
