"""Command lines mean the same wherever they come from."""

from sc_audit import commands as cmd


def test_wrappers_are_stripped():
    argv, env, wrappers = cmd.strip_wrappers(("sudo", "-u", "www", "env", "A=1", "nohup", "B=2", "gunicorn", "app:app"))
    assert argv == ("gunicorn", "app:app")
    assert env == {"A": "1", "B": "2"}
    assert wrappers == ("sudo", "env", "nohup")


def test_gunicorn_arguments_as_gunicorn_reads_them():
    launch = cmd.interpret(("venv/bin/gunicorn", "-w4", "--bind=127.0.0.1:8001", "-b", "unix:/run/a.sock",
                            "-c", "conf/prod.py", "--preload", "-k", "gevent", "app:create_app()"))
    assert launch.program == "gunicorn"
    args = launch.gunicorn
    assert args.target == "app:create_app()"
    assert args.config == "conf/prod.py"
    assert args.binds == ("127.0.0.1:8001", "unix:/run/a.sock")
    assert args.settings == {"workers": "4", "preload_app": True, "worker_class": "gevent"}


def test_python_dash_m_gunicorn():
    launch = cmd.interpret(("python3", "-m", "gunicorn", "wsgi:app"))
    assert launch.program == "gunicorn" and launch.gunicorn.python_m and launch.gunicorn.target == "wsgi:app"


def test_python_script_and_not_a_server():
    assert cmd.interpret(("python3", "app.py")).script == "app.py"
    assert cmd.interpret(("python", "-m", "pytest")) is None
    assert cmd.interpret(("echo", "hi")) is None


def test_pm2_commands():
    restart = cmd.interpret(("pm2", "restart", "signalcraft-python"))
    assert restart == cmd.Pm2Command("restart", ("signalcraft-python",))
    only = cmd.interpret(("pm2", "startOrReload", "ecosystem.config.js", "--only", "api,worker", "--env", "production"))
    assert only.action == "startOrReload" and only.targets == ("ecosystem.config.js",) and only.only == ("api", "worker")
    start = cmd.interpret(("pm2", "start", "venv/bin/gunicorn", "--name", "api", "--interpreter", "none", "--",
                           "-b", "127.0.0.1:8000", "app:app"))
    assert start.name == "api" and start.interpreter == "none" and start.args == ("-b", "127.0.0.1:8000", "app:app")


def test_kill_commands():
    assert cmd.interpret(("pkill", "-f", "python.*app.py")) == cmd.KillCommand("pkill", "python.*app.py", full=True)
    assert cmd.interpret(("pkill", "-9", "-x", "gunicorn")) == cmd.KillCommand("pkill", "gunicorn", exact=True)
    assert cmd.interpret(("killall", "node")) == cmd.KillCommand("killall", "node", exact=True)
    assert cmd.interpret(("sudo", "fuser", "-k", "8000/tcp")).ports == ("8000",)


def test_http_and_copy():
    assert cmd.interpret(("curl", "-sf", "-o", "/dev/null", "http://localhost:8001/health")) == \
        cmd.HttpRequest("curl", "http://localhost:8001/health")
    assert cmd.interpret(("sudo", "cp", "a.conf", "/etc/nginx/sites-available/x")) == \
        cmd.CopyCommand("cp", ("a.conf",), "/etc/nginx/sites-available/x")
    assert cmd.interpret(("install", "-m", "644", "-t", "/etc/systemd/system", "app.service")).dest == "/etc/systemd/system"
