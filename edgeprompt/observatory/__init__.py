"""The observatory: what the traces say about how well edgeprompt works, computed offline on this laptop.

It reads the `traces` / `trace_spans` tables, the `feedback` table and its own `obs_signals` table (question
and answer embeddings plus a few keywords, written by the pipeline's `observe.signals` stage), and turns
them into metrics, confidence, drift, topic clusters, failure categories, cost and energy: one report
(`report.build_report`) rendered as JSON or a self-contained HTML page. It also exports OTLP/JSON and runs
evaluation suites. Importing this package is light: numpy and scikit-learn load inside functions.
"""
