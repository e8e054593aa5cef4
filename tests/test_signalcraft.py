"""The SignalCraft deployment: the plan under review, and the same repository fixed."""

from sc_audit import audit

from conftest import SIGNALCRAFT, codes_at

WORKFLOW = ".github/workflows/auto-deploy.yml"

PLAN_EXPECTED = {
    # review 1: the plan names a factory app.py does not have
    ("SC101", "gunicorn.conf.py", 13),
    # review 2: the deploy restarts a PM2 app that does not exist
    ("SC201", WORKFLOW, 67),
    # review 3: workers = cpu_count() * 2 + 1 on a small host
    ("SC401", "gunicorn.conf.py", 5),
    # review 5: pkill -f "python.*app.py" never matches Gunicorn ...
    ("SC501", WORKFLOW, 62),
    # ... and, inside the ssh-action script, it matches the session's own bash -c (exit 143)
    ("SC503", WORKFLOW, 62),
    # the old fix script's `pkill -f "node server.js"`: PM2 runs `node /abs/path/server.js`
    ("SC501", "fix-502-complete.sh", 9),
    # review 6: the deploy restarts the Python service but only curls port 3000
    ("SC602", WORKFLOW, 80),
    # ... and the old fix script starts the dev server on 5000 without checking it either
    ("SC602", "fix-502-complete.sh", 21),
    # note: the Nginx config the deploy copies is not in the repository
    ("SC002", "fix-502-complete.sh", 44),
    # the old fix script starts the Flask dev server with nohup, outside any manager ...
    ("SC202", "fix-502-complete.sh", 21),
    # ... and it is Werkzeug's development server (`app.run()` under __main__) serving production
    ("SC104", "fix-502-complete.sh", 21),
    # the old fix script polls Node 5 times, and when all fail it goes on as if Node were up
    ("SC604", "fix-502-complete.sh", 29),
    # beyond the review: AI analysis may take 120 s (Gunicorn timeout), Nginx waits 60 s by default
    ("SC403", "deploy/nginx-signalcraft.conf", 16),
}


def test_plan_raises_what_the_reviewer_found():
    report = audit(SIGNALCRAFT / "plan")
    assert codes_at(report) == PLAN_EXPECTED


def test_plan_messages_say_what_to_do():
    report = audit(SIGNALCRAFT / "plan")
    by_rule = {f.rule: f for f in report.findings}
    assert "app:app" in by_rule["SC101"].message
    assert by_rule["SC101"].related[0].span.path == "app.py"
    assert "signalcraft-python" in by_rule["SC201"].message and "signalcraft-nodejs" in by_rule["SC201"].message
    assert "nginx_https_config.conf" in by_rule["SC002"].message


def test_plan_on_a_small_host_is_over_budget():
    """Review 3: 'Gunicorn workers + Node ~ 1.5 GB'. On a 1 GiB, 2-CPU host the plan's 5 workers do not fit."""
    from sc_audit.config import Config

    report = audit(SIGNALCRAFT / "plan", Config(host_memory_mib=1024, host_cpus=2, select=("SC402",)))
    [finding] = report.findings
    assert finding.span.path == "gunicorn.conf.py" and finding.span.line == 5
    assert "(5 workers + 1 master) × 200 MiB = 1200 MiB" in finding.message
    assert "max_memory_restart 512 MiB" in finding.message


def test_fixed_is_clean():
    """The review's corrections, plus what sc-audit found beyond them. Where `fixed` differs from
    the review's own corrected files, it is because the review's version still has a finding:
    - the review's PM2 entry keeps `max_memory_restart: '1G'` on Gunicorn (SC404): removed,
      workers recycle with max_requests instead;
    - the review's `script: 'gunicorn', interpreter: 'python3'` runs the system Python, not the
      venv: `script: 'venv/bin/gunicorn', interpreter: 'none'`;
    - the review adds `pkill -f "gunicorn"` inside the ssh-action script (SC503: it matches the
      session's own bash -c): the deploy uses `pm2 startOrReload` and no pkill;
    - the workflow's systemd unit for the same app is dropped (one manager, SC203);
    - Nginx waits 180 s for /api/ai/ (SC403) and the Nginx site is committed (SC002);
    - PM2 stops apps with SIGINT, Gunicorn's quick shutdown (SC208): the fix script restarts the
      daemon with `PM2_KILL_SIGNAL=SIGTERM` (PM2 has no per-app signal).
    """
    report = audit(SIGNALCRAFT / "fixed")
    assert [(f.rule, f.span.path, f.span.line, f.message) for f in report.findings] == []
    assert report.skipped == []


def test_plan_model_has_every_process():
    model = audit(SIGNALCRAFT / "plan").model
    names = {(p.manager, p.name) for p in model.processes}
    assert ("pm2", "signalcraft-nodejs") in names
    assert ("systemd", "signalcraft-python.service") in names
    assert ("script", "python3 app.py") in names
    unit = next(p for p in model.processes if p.manager == "systemd")
    assert unit.config_path == "gunicorn.conf.py"
    assert unit.settings["bind"].value == "127.0.0.1:8001"
    assert unit.wsgi.text == "app:create_app()"
