"""Orchestration: tools the models may call (`tools`, `builtin_tools`, `toolcalls`, `toolloop`) and
multi-step plans (`plans`, `plan_runner`). Routing itself lives in `edgeprompt.routing.router`."""
