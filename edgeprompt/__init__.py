"""edgeprompt: an offline, on-device AI assistant runtime.

Importing this package stays light: heavy libraries (numpy, onnxruntime, mlx, torch, textual, flwr)
are imported inside the functions that need them.
"""

__version__ = "0.1.0"
