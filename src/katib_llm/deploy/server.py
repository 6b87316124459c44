"""``katib-llm deploy --local``: serve the local backend's best adapter over HTTP on 127.0.0.1.

KServe v1 protocol (``GET /v1/models/<name>`` readiness, ``POST /v1/models/<name>:predict``
with ``{"instances": [...]}`` → ``{"predictions": [...]}``) and, for causal LMs, OpenAI-style
``POST /v1/completions``. Bad requests get 400 with a message naming the field; unknown paths
404; nothing a client sends produces a 500.

The work dir is the local backend's (``katib_llm.local.run_experiment``): ``experiment.yaml``
(the admitted Experiment: model URI and class) and ``best/`` (the promoted adapter). The base
model is the one the trials read: ``<workdir>/volume/inputs/<key>`` when present, else fetched
through the storage initializer and its cache.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from katib_llm.core.trialenv import TrialEnv

MAX_BODY = 1 << 20  # 1 MiB


class LocalDeployError(ValueError):
    """The work dir cannot be served; the message says what is missing."""


@dataclass(frozen=True)
class LocalModel:
    """Where the pieces of a locally tuned model are."""

    name: str
    model_class: str
    model_dir: Path
    adapter_dir: Path


def resolve(workdir: str | Path, model_dir: str | Path | None = None, cache_dir: str | Path | None = None,
            name: str | None = None) -> LocalModel:
    """Find the Experiment, the best adapter and the base model of a local run's work dir."""
    from katib_llm.core.contract import MODEL, annotation_key, parse_annotations
    from katib_llm.core.errors import format_errors
    from katib_llm.io import admin_config

    from .kserve import service_name

    root = Path(workdir)
    exp_file, adapter = root / "experiment.yaml", root / "best"
    if not exp_file.is_file():
        raise LocalDeployError(f"{root} is not a local run's work dir: no experiment.yaml "
                               "(run `katib-llm tune FILE --local --workdir DIR` first)")
    if not (adapter / "adapter_config.json").is_file():
        raise LocalDeployError(f"{adapter} holds no adapter: the run has no best trial yet")
    try:
        experiment = yaml.safe_load(exp_file.read_text())
    except yaml.YAMLError as exc:
        raise LocalDeployError(f"{exp_file}: not valid YAML ({exc})") from None
    config = admin_config(None)
    llm, errors = parse_annotations(experiment if isinstance(experiment, dict) else {}, set(config.providers))
    if errors:
        raise LocalDeployError(f"{exp_file}: {format_errors(errors)}")
    exp_name = str(((experiment or {}).get("metadata") or {}).get("name") or "model")
    if model_dir is None:
        if llm.model is None:
            raise LocalDeployError(f"{exp_file} names no model (annotation {annotation_key(MODEL)}); "
                                   "pass --model-dir")
        model_dir = root / "volume" / "inputs" / llm.model.key
        if not (Path(model_dir) / "config.json").is_file():
            model_dir = _fetch(llm.model.raw, Path(model_dir), cache_dir)
    return LocalModel(name or service_name(exp_name), llm.model_class, Path(model_dir), adapter)


def _fetch(uri: str, target: Path, cache_dir: str | Path | None) -> Path:
    """The storage initializer, as the trials ran it: download once into the shared cache."""
    import os

    from katib_llm.runtime.errors import RuntimeInputError
    from katib_llm.runtime.storage_initializer import initialize

    cache = Path(cache_dir or os.environ.get(TrialEnv.CACHE_DIR) or Path.home() / ".cache" / "katib-llm")
    try:
        initialize("model", uri, target, cache)
    except RuntimeInputError as exc:
        raise LocalDeployError(f"cannot fetch the base model {uri}: {exc}") from None
    return target


class _Handler(BaseHTTPRequestHandler):
    server: "ModelServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # one line per request on stderr
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def _reply(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, message: str) -> None:
        self._reply(code, {"error": message})

    def do_GET(self) -> None:  # noqa: N802
        name = self.server.model_name
        if self.path in ("/v1/models", "/v1/models/"):
            self._reply(200, {"models": [name]})
        elif self.path == f"/v1/models/{name}":
            self._reply(200, {"name": name, "ready": True})
        elif self.path in ("/healthz", "/"):
            self._reply(200, {"status": "alive"})
        elif self.path.startswith("/v1/models/"):
            self._error(404, f"model {self.path.removeprefix('/v1/models/')!r} not found; this server serves {name!r}")
        else:
            self._error(404, f"no such path {self.path}; try GET /v1/models/{name}")

    def _body(self) -> dict[str, Any] | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(411, "Content-Length is required")
            return None
        if int(length) > MAX_BODY:
            self.rfile.read(int(length))
            self._error(413, f"request body is {length} bytes; at most {MAX_BODY}")
            return None
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            self._error(400, f"request body is not valid JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self._error(400, 'request body must be a JSON object such as {"instances": ["some text"]}')
            return None
        return body

    def do_POST(self) -> None:  # noqa: N802
        from .model import BadRequest

        name = self.server.model_name
        predictor = self.server.predictor
        predict_path = f"/v1/models/{name}:predict"
        if self.path not in (predict_path, "/v1/completions"):
            if self.path.startswith("/v1/models/") and self.path.endswith(":predict"):
                self._error(404, f"model {self.path[len('/v1/models/'):-len(':predict')]!r} not found; "
                                 f"this server serves {name!r}")
            else:
                self._error(404, f"no such path {self.path}; POST {predict_path}")
            return
        body = self._body()
        if body is None:
            return
        try:
            with self.server.lock:  # one inference at a time: torch runs single-threaded here
                if self.path == predict_path:
                    if "instances" not in body:
                        raise BadRequest('missing "instances": send {"instances": ["some text", ...]}')
                    self._reply(200, {"predictions": predictor.predict(body["instances"], body.get("parameters"))})
                else:
                    self._reply(200, self._completion(body))
        except BadRequest as exc:
            self._error(400, str(exc))
        except Exception as exc:  # noqa: BLE001 — the server must answer, never drop the connection
            self._error(500, f"inference failed: {type(exc).__name__}: {exc}")

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        from .model import BadRequest, Predictor

        predictor: Predictor = self.server.predictor
        if not predictor.causal:
            raise BadRequest(f"/v1/completions needs a causal LM; this model is a {predictor.model_class}: "
                             f"POST /v1/models/{self.server.model_name}:predict")
        model = body.get("model", self.server.model_name)
        if model != self.server.model_name:
            raise BadRequest(f'"model" must be {self.server.model_name!r}, got {model!r}')
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, list):
            raise BadRequest('"prompt" must be a string or a list of strings')
        texts = predictor._texts(prompts, "prompt")
        n = predictor._max_tokens(body, "max_tokens", 16)
        choices = [{"index": i, "text": predictor.generate(t, n), "finish_reason": "length", "logprobs": None}
                   for i, t in enumerate(texts)]
        return {"id": f"cmpl-{int(time.time() * 1000)}", "object": "text_completion", "created": int(time.time()),
                "model": self.server.model_name, "choices": choices}


class ModelServer(ThreadingHTTPServer):
    """An HTTP server holding one loaded :class:`~katib_llm.deploy.model.Predictor`."""

    daemon_threads = True

    def __init__(self, predictor: Any, model_name: str, port: int = 8080, host: str = "127.0.0.1"):
        self.predictor = predictor
        self.model_name = model_name
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)


def serve(workdir: str | Path, port: int = 8080, *, model_dir: str | Path | None = None,
          cache_dir: str | Path | None = None, name: str | None = None, host: str = "127.0.0.1") -> int:
    """Load the best adapter of a local run and serve it until interrupted."""
    import torch

    from .model import Predictor

    torch.set_num_threads(1)
    local = resolve(workdir, model_dir, cache_dir, name)
    predictor = Predictor.load(local.model_dir, local.adapter_dir, local.model_class)
    server = ModelServer(predictor, local.name, port, host)
    bound = server.server_address[1]
    trial = predictor.trial.get("trial")
    print(f"serving {local.name} ({local.model_class}, adapter of trial {trial or '?'}) on "
          f"http://{host}:{bound}/v1/models/{local.name}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
