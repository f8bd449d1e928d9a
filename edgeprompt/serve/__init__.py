"""`edgeprompt serve`: a local OpenAI-compatible HTTP API in front of `pipeline.run`.

Rooms: `errors.py` (OpenAI's error shape), `requests.py` (OpenAI request JSON -> frozen calls),
`responses.py` (pipeline results -> OpenAI response JSON and SSE chunks), `toolcalls.py` (the client's
tools through the orchestrator's tool-call prompt and parser), `queue.py` (the fair, bounded job queue
and the one worker that runs the pipeline), `app.py` (Starlette routes), `server.py` (uvicorn),
`parts.py` (what the server needs from the composition root, as a Protocol).
"""
