"""Models: `cards` (model cards and the catalog), `files` (model folders on disk), `convert` (to mlx/onnx),
`demo` and `demo_train` (the demo model), `bench` (decode speed), `pull` (ready-made hub repositories),
`gguf_import` (GGUF files), `recommend` (models that suit this machine), `extras` (which optional
installs are here)."""
