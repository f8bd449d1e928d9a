"""Federated fine-tuning, laptop side: the privacy ledger, the local SuperNode, and model-pack import.

The Flower App itself (ClientApp, ServerApp, DP training) lives in the repository's `federation/` folder;
this package holds what a laptop needs around it. Nothing here imports flwr, torch or opacus at import
time.
"""
