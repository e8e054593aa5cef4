"""supervisord files read as supervisord reads them (supervisor/options.py, datatypes.py)."""

from sc_audit.parsers import supervisor
from sc_audit.source import SourceFile
from sc_audit.span import Unknown


def parse(text: str, path: str = "deploy/app.conf"):
    return supervisor.parse(SourceFile(path, "supervisor", text))


def test_defaults_are_supervisords_own():
    facts = parse("[program:web]\ncommand=gunicorn app:app\n")
    [program] = facts.programs
    assert facts.errors == []
    assert program.value("stopsignal") == "TERM"
    assert program.value("stopwaitsecs") == 10
    assert program.value("autorestart") == "unexpected"
    assert program.value("autostart") is True
    assert program.value("stopasgroup") is False and program.value("killasgroup") is False
    assert "directory" not in program.settings  # supervisord's own working directory: unknown
    assert program.command.argv == ("gunicorn", "app:app")
    assert program.settings["stopwaitsecs"].span == program.span  # a default points at the section


def test_values_and_their_positions():
    text = ("[program:web]\n"
            "command = /srv/app/venv/bin/gunicorn -c gunicorn.conf.py app:app   ; the server\n"
            "directory=/srv/app\n"
            "stopsignal=quit\n"
            "stopwaitsecs = 30\n"
            "stopasgroup=true\n"
            "user=www-data\n")
    [program] = parse(text).programs
    assert program.command.argv == ("/srv/app/venv/bin/gunicorn", "-c", "gunicorn.conf.py", "app:app")
    assert (program.command.span.line, program.command.span.column) == (2, 11)
    assert program.command.span.end_column == 11 + len("/srv/app/venv/bin/gunicorn -c gunicorn.conf.py app:app")
    assert program.value("directory") == "/srv/app"
    assert program.value("stopsignal") == "QUIT"
    assert program.value("stopwaitsecs") == 30
    assert (program.settings["stopwaitsecs"].span.line, program.settings["stopwaitsecs"].span.column) == (5, 16)
    assert program.value("stopasgroup") is True and program.value("killasgroup") is True  # follows stopasgroup
    assert program.value("user") == "www-data"


def test_a_semicolon_without_space_before_it_is_part_of_the_value():
    [program] = parse("[program:w]\ncommand=sh -c 'a;b' #x\n").programs
    assert program.commands[0].argv == ("sh", "-c", "a;b")


def test_environment_syntax_and_env_expansions():
    text = ("[supervisord]\nenvironment=VENV=\"/srv/venv\"\n\n"
            "[program:web]\n"
            "environment=A=\"x, y\",\n"
            "    PORT=8001,HOME_DIR=\"%(ENV_HOME)s\"\n"
            "command=%(ENV_VENV)s/bin/gunicorn -b 127.0.0.1:%(ENV_PORT)s app:app\n")
    [program] = parse(text).programs
    assert program.environment["A"].value == "x, y"
    assert program.environment["PORT"].value == "8001"
    assert program.environment["PORT"].span.line == 6
    assert isinstance(program.environment["HOME_DIR"].value, Unknown)  # supervisord's own environment
    assert program.command.argv == ("/srv/venv/bin/gunicorn", "-b", "127.0.0.1:8001", "app:app")
    assert not any(program.command.dynamic)


def test_unknown_expansions_stay_unknown():
    [program] = parse("[program:web]\ncommand=%(here)s/venv/bin/gunicorn app:app\n"
                      "directory=%(ENV_APP_DIR)s\n").programs
    assert program.command.dynamic[0] is True
    assert isinstance(program.value("directory"), Unknown)
    assert isinstance(program.value("command"), Unknown)


def test_numprocs_gives_one_process_each():
    text = ("[program:web]\ncommand=gunicorn -b 127.0.0.1:80%(process_num)02d app:app\n"
            "numprocs=2\nprocess_name=%(program_name)s_%(process_num)s\n")
    programs = parse(text).programs
    assert [p.process_name for p in programs] == ["web_0", "web_1"]
    assert [p.command.argv[2] for p in programs] == ["127.0.0.1:8000", "127.0.0.1:8001"]


def test_groups_name_their_programs():
    facts = parse("[group:site]\nprograms=web,worker\n\n[program:web]\ncommand=gunicorn app:app\n"
                  "[program:worker]\ncommand=celery -A app worker\n[include]\nfiles=conf.d/*.conf\n")
    assert facts.groups == {"site": ("web", "worker")}
    assert [p.group for p in facts.programs] == ["site", "site"]
    assert [i.value for i in facts.includes] == ["conf.d/*.conf"]


def test_bash_c_adds_the_commands_of_its_string():
    [program] = parse("[program:web]\ncommand=/bin/bash -c \"cd /srv/app && exec gunicorn app:app\"\n").programs
    assert program.command.argv == ("exec", "gunicorn", "app:app")
    assert program.commands[0].argv[0] == "/bin/bash"


def test_a_template_is_read_with_its_placeholders_unknown():
    text = ("[program:{{ app_name }}]\n"
            "environment =\n  LANG=\"en_US.utf8\",\n{% for k, v in env.items() %}\n  {{ k }}=\"{{ v }}\",\n"
            "{% endfor %}\n"
            "command={{ venv }}/bin/gunicorn {{ app_name }}.wsgi -w 3\n"
            "directory={{ code_dir }}\n")
    facts = parse(text)
    assert facts.errors == []
    [program] = facts.programs
    assert isinstance(program.value("directory"), Unknown)
    assert program.command.dynamic[0] is True


def test_what_supervisord_refuses_is_an_error():
    assert parse("command=gunicorn app:app\n[program:x]\ncommand=a\n").errors  # before any section
    assert parse("[program:x]\nautostart=maybe\ncommand=a\n").errors
    assert parse("[program:x]\nstopasgroup=true\nkillasgroup=false\ncommand=a\n").errors
    assert parse("[program:x]\nnumprocs=2\ncommand=a\n").errors  # the default process_name has no process_num
    assert parse("[program:x]\nnumprocs=2\nprocess_name=x\ncommand=a\n").errors
    assert parse("[program:x]\ndirectory=/srv\n").errors  # no command
    assert parse("[program:x]\ncommand=date +%Y\n").errors  # a bare % is a format error
    assert parse("[program:x]\ncommand=echo %(nope)s\n").errors


def test_sniffing():
    assert supervisor.looks_like_supervisor("; x\n[program:web]\ncommand=a\n")
    assert supervisor.looks_like_supervisor("[supervisord]\nnodaemon=true\n")
    assert not supervisor.looks_like_supervisor("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n")
    assert not supervisor.looks_like_supervisor("[uwsgi]\nmodule=app\n")
