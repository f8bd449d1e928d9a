"""Shipped model cards, rule packs and small ONNX artifacts: data only, installed as edgeprompt.shipped."""
