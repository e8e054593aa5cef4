"""One model of the deployment, built from the facts of every file.

Processes (who runs what, with which command line, bound where), the Nginx proxies in
front of them, the deploy steps that kill, restart, copy and health-check, and the apps
with their routes. Every fact keeps its Span. Checks read this model and nothing else.

- `records`: the model's records and the Deployment with its indexes
- `network`: endpoints and which endpoint serves which
- `install`: where the repository lands on a host (the install map)
- `processes`: processes from each launcher, and how the OS shows them
- `gunicorn`: effective Gunicorn settings, binds and WSGI targets
- `proxies`: Nginx locations that proxy to an upstream
- `routes`: apps and the URL paths they serve
- `restarts`: deploy steps that (re)start processes, and the shells steps run in
- `build`: the one function that puts it together
"""

from .build import MAX_KILLS, MAX_PROCESSES, MAX_PROXIES, MAX_STEPS, build
from .gunicorn import DEFAULT_CONFIG
from .install import repo_dir, resolve
from .network import Endpoint, bind_key, host_endpoints, parse_endpoint
from .processes import LONG_RUNNING, PM2_EXTENSIONS, pm2_argv, pm2_default_interpreter, split_words
from .proxies import DEFAULT_PROXY_READ_TIMEOUT
from .records import Deployment, Process, Proxy, Setting, Step, WsgiTarget
from .restarts import RESTART_ACTIONS, is_restart, restarted, steps_by_file, steps_by_shell
from .runs import services, together
from .routes import find_module, module_file_candidates, module_in_repo, routes_of

__all__ = [
    "DEFAULT_CONFIG", "DEFAULT_PROXY_READ_TIMEOUT", "LONG_RUNNING", "MAX_KILLS", "MAX_PROCESSES",
    "MAX_PROXIES", "MAX_STEPS", "PM2_EXTENSIONS", "RESTART_ACTIONS", "Deployment", "Endpoint", "Process", "Proxy",
    "Setting", "Step", "WsgiTarget", "bind_key", "build", "find_module", "host_endpoints", "is_restart",
    "module_file_candidates", "module_in_repo", "parse_endpoint", "pm2_argv",
    "pm2_default_interpreter", "repo_dir", "resolve", "restarted", "routes_of", "services", "split_words",
    "steps_by_file", "steps_by_shell", "together",
]
