"""A Hugging Face hub on 127.0.0.1 for `models pull` tests: it serves model folders through the endpoints
huggingface_hub calls (the repository's file list with sizes and checksums, then HEAD and GET, with Range,
on each file), and can drop a connection mid-file once or serve corrupt bytes under the true checksum."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".onnx", ".onnx.data", ".data", ".gguf", ".bin")


@dataclass
class Repo:
    folder: Path
    commit: str
    license: str = "apache-2.0"

    def files(self) -> dict[str, Path]:
        return {p.relative_to(self.folder).as_posix(): p for p in sorted(self.folder.rglob("*")) if p.is_file()}


def _lfs(name: str) -> bool:
    return name.endswith(LFS_SUFFIXES)


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    drop_once: set[str] = field(default_factory=set)  # file paths whose first GET stops half-way
    corrupt: set[str] = field(default_factory=set)  # file paths served with one byte flipped
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range header)

    def add(self, repo_id: str, folder: Path, license: str = "apache-2.0") -> None:
        commit = hashlib.sha1(repo_id.encode(), usedforsecurity=False).hexdigest()
        self.repos[repo_id] = Repo(folder, commit, license)

    def info(self, repo_id: str) -> dict[str, object]:
        repo = self.repos[repo_id]
        siblings = []
        for name, path in repo.files().items():
            data = path.read_bytes()
            entry: dict[str, object] = {"rfilename": name, "size": len(data), "blobId": _blob_id(data)}
            if _lfs(name):
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(entry)
        return {
            "id": repo_id,
            "modelId": repo_id,
            "sha": repo.commit,
            "private": False,
            "gated": False,
            "siblings": siblings,
            "cardData": {"license": repo.license},
            "tags": [],
        }

    def tree(self, repo_id: str) -> list[dict[str, object]]:
        """The recursive tree listing (what snapshot_download reads): the same files in its own keys."""
        out = []
        for s in self.info(repo_id)["siblings"]:  # type: ignore[union-attr]
            entry: dict[str, object] = {"type": "file", "path": s["rfilename"], "size": s["size"], "oid": s["blobId"]}
            if "lfs" in s:
                entry["lfs"] = {"oid": s["lfs"]["sha256"], "size": s["size"], "pointerSize": 134}
            out.append(entry)
        return out


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send_json(self, obj: object, status: int = 200) -> None:
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _route(self) -> None:
            path = unquote(urlparse(self.path).path)
            hub.log.append((self.command, path, self.headers.get("Range", "")))
            if path.startswith("/api/models/"):
                rest = path[len("/api/models/") :]
                repo_id = "/".join(rest.split("/")[:2])
                if repo_id not in hub.repos:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                tree = "/tree/" in rest
                self._send_json(hub.tree(repo_id) if tree else hub.info(repo_id))
                return
            parts = path.lstrip("/").split("/")
            if len(parts) >= 5 and parts[2] == "resolve":
                self._file("/".join(parts[:2]), "/".join(parts[4:]))
                return
            self._send_json({"error": "not found"}, 404)

        def _file(self, repo_id: str, name: str) -> None:
            repo = hub.repos.get(repo_id)
            files = repo.files() if repo else {}
            if repo is None or name not in files:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = files[name].read_bytes()
            etag = hashlib.sha256(data).hexdigest() if _lfs(name) else _blob_id(data)
            if name in hub.corrupt:  # same size, same announced checksum, different bytes
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0] or 0)
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{etag}"')
            if _lfs(name):
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if self.command == "HEAD":
                return
            if name in hub.drop_once and not start:
                hub.drop_once.discard(name)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the peer sees the body end early
                return
            self.wfile.write(body)

        do_GET = _route
        do_HEAD = _route

    return Handler


class HubServer:
    """`with HubServer(hub) as url:` serves `hub` on a free port of 127.0.0.1 until the block ends."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
