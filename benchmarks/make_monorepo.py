"""Write a synthetic deployment monorepo of N services, for the scaling benchmark.

    python benchmarks/make_monorepo.py N [DIR]     # DIR defaults to ./monorepo-N

Each service has an app module with routes, a gunicorn.conf.py, an entry in the root
ecosystem.config.js, an Nginx site, a deploy script and a GitHub Actions workflow. The
services are consistent with each other (the audit of the result is clean), so the
benchmark exercises every cross-file join rather than an early error path.
"""

from __future__ import annotations

import sys
from pathlib import Path

BASE_PORT = 8000
HOST_ROOT = "/srv/monorepo"


def service_name(index: int) -> str:
    return f"svc{index:04d}"


def app_module(name: str) -> str:
    return f'''"""The {name} service."""
import os

from flask import Flask, jsonify, request

app = Flask(__name__)
DEFAULT_LIMIT = int(os.environ.get("{name.upper()}_LIMIT", "50"))


def _page(args):
    limit = min(int(args.get("limit", DEFAULT_LIMIT)), 500)
    offset = int(args.get("offset", 0))
    return limit, offset


@app.route("/health")
def health():
    return {{"status": "ok", "service": "{name}"}}, 200


@app.route("/api/{name}/items", methods=["GET"])
def list_items():
    limit, offset = _page(request.args)
    return jsonify({{"items": [], "limit": limit, "offset": offset}})


@app.route("/api/{name}/items", methods=["POST"])
def create_item():
    payload = request.get_json(silent=True) or {{}}
    if "name" not in payload:
        return jsonify({{"error": "name is required"}}), 400
    return jsonify({{"created": payload["name"]}}), 201


@app.route("/api/{name}/items/<int:item_id>", methods=["GET", "DELETE"])
def item(item_id):
    return jsonify({{"id": item_id}})


@app.route("/api/{name}/status")
def status():
    return jsonify({{"service": "{name}", "ready": True}})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
'''


def gunicorn_conf(port: int) -> str:
    return f'''# Gunicorn settings: the app is small; two sync workers are enough
import os

bind = "127.0.0.1:{port}"
workers = int(os.getenv("GUNICORN_WORKERS", "2"))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
max_requests = 1000
max_requests_jitter = 50
'''


def pm2_entry(name: str) -> str:
    return f'''    {{
      name: '{name}',
      script: 'venv/bin/gunicorn',
      args: '-c gunicorn.conf.py app:app',
      interpreter: 'none',
      cwd: './services/{name}',
      instances: 1,
      exec_mode: 'fork',
      autorestart: true,
      kill_timeout: 70000,
      env: {{ GUNICORN_WORKERS: '2' }},
      error_file: './logs/{name}-err.log',
      out_file: './logs/{name}-out.log'
    }}'''


def ecosystem(names: list[str]) -> str:
    entries = ",\n".join(pm2_entry(name) for name in names)
    return f"// PM2 runs every service of the monorepo\nmodule.exports = {{\n  apps: [\n{entries}\n  ]\n}};\n"


def nginx_site(name: str, port: int) -> str:
    return f'''# {name}.example.com -> Gunicorn on {port}
server {{
    listen 80;
    server_name {name}.example.com;

    location /api/{name}/ {{
        proxy_pass http://127.0.0.1:{port};
        proxy_read_timeout 90s;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}

    location /health {{
        proxy_pass http://127.0.0.1:{port};
    }}
}}
'''


def deploy_script(name: str, port: int) -> str:
    return f'''#!/bin/bash
# Deploy {name}: update the code, reload it under PM2, check that it answers.
set -euo pipefail
cd {HOST_ROOT}/services/{name}

git pull --ff-only
. venv/bin/activate
pip install -r requirements.txt

# PM2 stops with PM2_KILL_SIGNAL (SIGINT by default: Gunicorn's quick shutdown); a daemon this
# command starts sends SIGTERM, Gunicorn's graceful stop (SC208)
PM2_KILL_SIGNAL=SIGTERM pm2 startOrReload {HOST_ROOT}/ecosystem.config.js --only {name}
pm2 save

for attempt in 1 2 3 4 5; do
  if curl -sf http://127.0.0.1:{port}/health > /dev/null; then
    echo "{name} is up"
    exit 0
  fi
  sleep 2
done
echo "{name} did not answer" >&2
exit 1
'''


def workflow(name: str) -> str:
    return f'''name: Deploy {name}

on:
  push:
    branches: [main]
    paths: ["services/{name}/**"]

concurrency:
  group: deploy-{name}
  cancel-in-progress: false

jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Deploy
        uses: appleboy/ssh-action@v1.0.3
        with:
          host: ${{{{ secrets.DEPLOY_HOST }}}}
          username: deploy
          key: ${{{{ secrets.DEPLOY_KEY }}}}
          script: |
            bash {HOST_ROOT}/services/{name}/deploy.sh
'''


def make(count: int, root: Path) -> Path:
    names = [service_name(i) for i in range(1, count + 1)]
    files: dict[str, str] = {"ecosystem.config.js": ecosystem(names)}
    for index, name in enumerate(names, start=1):
        port = BASE_PORT + index
        files[f"services/{name}/app.py"] = app_module(name)
        files[f"services/{name}/gunicorn.conf.py"] = gunicorn_conf(port)
        files[f"services/{name}/requirements.txt"] = "flask>=3\ngunicorn>=22\n"
        files[f"services/{name}/deploy.sh"] = deploy_script(name, port)
        files[f"deploy/nginx/{name}.conf"] = nginx_site(name, port)
        files[f".github/workflows/deploy-{name}.yml"] = workflow(name)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def main(argv: list[str]) -> int:
    if not argv or not argv[0].isdigit() or len(argv) > 2:
        print("usage: make_monorepo.py N [DIR]", file=sys.stderr)
        return 2
    count = int(argv[0])
    root = Path(argv[1]) if len(argv) > 1 else Path(f"monorepo-{count}")
    make(count, root)
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
