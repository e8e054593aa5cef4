"""Shell parser: commands, words, flags, nested shells, positions, broken input, corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sc_audit.facts import ParseError, ShellContext, ShellFacts
from sc_audit.parsers import shell
from sc_audit.source import SourceFile

CORPUS = Path("/work/shared/corpus/scripts")
SCRIPT = ShellContext(kind="script")


def parse(text: str):
    return shell.parse(SourceFile("deploy.sh", "shell", text))


def commands(text: str):
    return parse(text).commands


def find(cmds, *argv):
    """The first command whose argv starts with argv."""
    for command in cmds:
        if command.argv[: len(argv)] == argv:
            return command
    raise AssertionError(f"no command {argv} in {[c.argv for c in cmds]}")


# --------------------------------------------------------------------------- words


def test_quote_removal_and_concatenation():
    (cmd,) = commands("""pgrep -f "python.*app.py" 'a b' x"y"'z'\n""")
    assert cmd.argv == ("pgrep", "-f", "python.*app.py", "a b", "xyz")
    assert cmd.dynamic == (False,) * 5


def test_expansions_keep_text_and_defaults_resolve():
    cmd, date = commands('gunicorn -b 0.0.0.0:${PORT:-8000} -w ${W-2} $HOST "${A}" "${B:-a b}" `date`\n')
    assert date.argv == ("date",) and date.in_substitution and cmd.substitutions == (("date",),)
    assert cmd.argv == ("gunicorn", "-b", "0.0.0.0:8000", "-w", "2", "$HOST", "${A}", "a b", "`date`")
    assert cmd.dynamic == (False, False, True, False, True, True, True, True, True)


def test_assignments_and_wrappers_stay_in_argv_redirections_do_not():
    cmd = find(commands("FLASK_ENV=prod sudo -u www env A=1 cmd --x > /tmp/log 2>&1\n"), "FLASK_ENV=prod")
    assert cmd.argv == ("FLASK_ENV=prod", "sudo", "-u", "www", "env", "A=1", "cmd", "--x")


def test_word_after_redirection_is_an_argument():
    (cmd,) = commands("cmd > out.log arg\n")
    assert cmd.argv == ("cmd", "arg")


def test_export_and_array_assignment():
    cmds = commands("arr=(1 2 3)\nexport PORT=8000\n")
    assert [c.argv for c in cmds] == [("export", "PORT=8000")]


# --------------------------------------------------------------------------- structure


def test_nohup_background_and_span():
    (cmd,) = commands("cd /app\n  nohup gunicorn app:app -b 0.0.0.0:8000 > log 2>&1 &\n")[1:]
    assert cmd.argv[:2] == ("nohup", "gunicorn")
    assert cmd.background
    assert (cmd.span.line, cmd.span.column, cmd.span.end_line, cmd.span.end_column) == (2, 3, 2, 41)


def test_background_list_and_pipeline():
    cmds = commands("a | b &\nc && d &\ne\n")
    assert [c.argv[0] for c in cmds if c.background] == ["a", "b", "c", "d"]
    assert not find(cmds, "e").background


def test_pipeline_links():
    cmds = commands("pgrep -f x | xargs kill\n")
    pgrep, xargs = find(cmds, "pgrep"), find(cmds, "xargs")
    assert pgrep.pipe_to == ("xargs", "kill") and pgrep.pipe_from is None
    assert xargs.pipe_from == ("pgrep", "-f", "x") and xargs.pipe_to is None


def test_substitution_is_emitted_and_listed():
    cmds = commands("kill $(lsof -t -i:8001)\n")
    kill, lsof = find(cmds, "kill"), find(cmds, "lsof")
    assert kill.argv == ("kill", "$(lsof -t -i:8001)") and kill.dynamic == (False, True)
    assert kill.substitutions == (("lsof", "-t", "-i:8001"),)
    assert lsof.in_substitution and not kill.in_substitution
    assert lsof.span.column == 8


def test_backticks_and_substitution_in_loops_and_tests():
    cmds = commands("for p in `pgrep gunicorn`; do kill $p; done\nif [[ -n $(pgrep x) ]]; then echo y; fi\n")
    assert find(cmds, "pgrep", "gunicorn").in_substitution
    assert find(cmds, "pgrep", "x").in_substitution
    assert find(cmds, "kill").argv == ("kill", "$p")
    assert find(cmds, "echo").span.line == 2


def test_compound_statements_are_walked():
    text = """f() { stop_app; }
case "$1" in
  start) gunicorn app:app ;;
  *) echo usage ;;
esac
( cd /srv && make ) ; { x; y; }
while true; do sleep 1; done
"""
    names = [c.argv[0] for c in commands(text)]
    assert names == ["stop_app", "gunicorn", "echo", "cd", "make", "x", "y", "true", "sleep"]


def test_heredoc_to_cat_is_data():
    cmds = commands("cat > /etc/app.conf <<EOF\nrm -rf /\nEOF\necho done\n")
    assert [c.argv[0] for c in cmds] == ["cat", "echo"]
    assert find(cmds, "echo").span.line == 4


# --------------------------------------------------------------------------- nested shells


def test_ssh_double_quoted_command():
    cmds = commands('ssh user@h "cd /app && pkill -f gunicorn"\n')
    ssh_cmd = find(cmds, "ssh")
    assert ssh_cmd.context.kind == "script" and not ssh_cmd.context.remote
    pkill = find(cmds, "pkill")
    assert pkill.argv == ("pkill", "-f", "gunicorn")
    assert pkill.context.kind == "ssh" and pkill.context.remote
    assert pkill.context.cmdline == "cd /app && pkill -f gunicorn"
    assert pkill.context.span == ssh_cmd.span
    assert (pkill.span.line, pkill.span.column) == (1, 24)


def test_ssh_single_command_has_no_cmdline_and_options_are_skipped():
    cmds = commands("ssh -i key -p 22 -o StrictHostKeyChecking=no deploy@host 'pkill -f gunicorn'\n")
    pkill = find(cmds, "pkill")
    assert pkill.context.kind == "ssh" and pkill.context.cmdline is None and pkill.context.remote


def test_ssh_several_words_are_joined():
    cmds = commands("ssh host sudo systemctl restart app\n")
    assert find(cmds, "sudo").argv == ("sudo", "systemctl", "restart", "app")
    assert find(cmds, "sudo").context.kind == "ssh"


def test_ssh_heredoc_quoted_delimiter():
    text = "set -e\nssh deploy@host <<'EOF'\n  cd /app\n  pkill -f gunicorn || true\nEOF\necho local\n"
    cmds = commands(text)
    pkill = find(cmds, "pkill")
    assert pkill.context.kind == "ssh" and pkill.context.cmdline is None and pkill.context.remote
    assert (pkill.span.line, pkill.span.column) == (4, 3)
    assert find(cmds, "echo").context.kind == "script"


def test_ssh_heredoc_dash_and_if_then():
    cmds = commands("if ssh h <<-EOF; then\n\tsystemctl restart app\n\tEOF\n  echo ok\nfi\n")
    assert find(cmds, "systemctl").context.kind == "ssh"
    echo = find(cmds, "echo")
    assert echo.context.kind == "script" and (echo.span.line, echo.span.column) == (4, 3)


def test_ssh_heredoc_to_bash_s():
    cmds = commands("ssh host 'bash -s' <<EOF\nkill 1\nEOF\n")
    assert find(cmds, "kill").context.kind == "ssh"


def test_bash_c_nested_commands():
    cmds = commands("bash -c 'cd /app; exec gunicorn app:app'\nsh -c \"pkill -f x\"\n")
    gunicorn = find(cmds, "exec", "gunicorn")
    assert gunicorn.context.kind == "bash-c" and gunicorn.context.cmdline == "cd /app; exec gunicorn app:app"
    assert not gunicorn.context.remote
    assert (gunicorn.span.line, gunicorn.span.column) == (1, 19)
    assert find(cmds, "pkill").context.cmdline is None  # sh execs a single command


def test_bash_c_multiline_positions():
    cmds = commands("sudo -u app bash -lc '\n  cd /srv\n  ./run.sh &\n'\n")
    run = find(cmds, "./run.sh")
    assert (run.span.line, run.span.column) == (3, 3) and run.background


def test_bash_c_inside_ssh_is_remote():
    cmds = commands("""ssh h "bash -c 'cd /a && ./start'"\n""")
    start = find(cmds, "./start")
    assert start.context.kind == "bash-c" and start.context.remote


def test_is_simple_command():
    assert shell.is_simple_command("pkill -f gunicorn")
    assert shell.is_simple_command("exec gunicorn > log 2>&1")
    assert not shell.is_simple_command("cd /app && pkill -f gunicorn")
    assert not shell.is_simple_command("a\nb")
    assert not shell.is_simple_command("a | b")
    assert not shell.is_simple_command("a &")


def test_shell_c_argument():
    assert shell.shell_c_argument(["/bin/bash", "-c", "x"]) == 2
    assert shell.shell_c_argument(["A=1", "sudo", "-u", "w", "bash", "-lc", "x"]) == 6
    assert shell.shell_c_argument(["bash", "script.sh"]) is None
    assert shell.shell_c_argument(["python", "-c", "x"]) is None


# --------------------------------------------------------------------------- parse_text and positions


def test_parse_text_offsets_and_line_map():
    context = ShellContext(kind="pm2-post-deploy")
    cmds, errors = shell.parse_text("npm ci && pm2 reload x", "ecosystem.config.js", 7, 20, context)
    assert not errors
    assert (cmds[1].span.line, cmds[1].span.column) == (7, 30)
    assert cmds[1].context is context
    # snippet line 1 starts at file line 12, column 9
    cmds, _ = shell.parse_text("a\nb c", "f", 1, 1, context, line_map=[(10, 9), (12, 9)])
    assert [(c.span.line, c.span.column, c.span.end_column) for c in cmds] == [(10, 9, 10), (12, 9, 12)]


def test_non_ascii_columns_are_characters():
    (cmd,) = commands("echo 한글 && kill 1\n")[1:]
    assert cmd.span.column == 12


def test_github_expressions():
    cmds, _ = shell.parse_text(
        'scp f "${{ secrets.USER }}@${{ secrets.HOST }}:/x" && ssh ${{ secrets.HOST }} "pkill -f app"',
        "w.yml", 1, 1, ShellContext("workflow-run"), gh_expressions=True,
    )
    scp = find(cmds, "scp")
    assert scp.argv[2] == "${{ secrets.USER }}@${{ secrets.HOST }}:/x" and scp.dynamic[2]
    assert find(cmds, "pkill").context.kind == "ssh"


# --------------------------------------------------------------------------- broken input


def test_broken_quote_costs_only_that_command():
    facts = parse('echo one\ngunicorn app:app &\nx "unterminated\n')
    assert [c.argv[0] for c in facts.commands] == ["echo", "gunicorn"]
    assert len(facts.errors) == 1 and facts.errors[0].span.line == 3
    assert facts.errors[0].message.startswith("cannot parse shell here")


def test_unclosed_if_reports_a_line_and_keeps_commands():
    facts = parse("a\nif x; then\n  b\n")
    assert [c.argv for c in facts.commands] == [("a",), ("x",), ("b",)]
    assert facts.errors and facts.errors[0].span.line == 2


def test_stray_paren():
    facts = parse("a\n  b )\nc\n")
    assert [c.argv[0] for c in facts.commands] == ["a", "c"]  # bash rejects the whole line
    assert [e.span.line for e in facts.errors] == [2]


def test_nul_and_deep_nesting_do_not_raise():
    assert find(parse("x\0y cmd\nb\n").commands, "b")
    deep = parse("echo " + "$( " * 1000 + "x" + " )" * 1000 + "\n")
    assert deep.errors and "too deeply" in deep.errors[0].message
    assert parse("echo " + "${A:-" * 1000 + "}" * 1000).commands


# --------------------------------------------------------------------------- corpus


def corpus_files():
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    return sorted(CORPUS.iterdir())


def corpus_parse(name: str):
    path = CORPUS / name
    if not path.is_file():
        pytest.skip("corpus file not present")
    return shell.parse(SourceFile(name, "shell", path.read_text(errors="replace")))


def test_corpus_parses():
    files = corpus_files()
    for path in files:
        facts = shell.parse(SourceFile(path.name, "shell", path.read_text(errors="replace")))
        assert isinstance(facts, ShellFacts)
    assert len(files) > 10


def test_corpus_ssh_heredoc_script():
    facts = corpus_parse("wintc23__blog-backend__push.sh")
    pip = find(facts.commands, "pip", "install", "-r")
    assert pip.context.kind == "ssh" and pip.context.remote and pip.span.line == 15
    assert not facts.errors


def test_corpus_ssh_bash_s_script():
    facts = corpus_parse("ItsNotDNS__virtual-outdoors-club__scripts__build_script.sh")
    assert find(facts.commands, "ssh").argv[-1] == "bash -s"
    assert find(facts.commands, "git", "checkout").context.kind == "ssh"


def test_corpus_exec_gunicorn_with_defaults():
    facts = corpus_parse("Great-Sun-Group__vimbiso-pay__app__start_app.sh")
    gunicorn = find(facts.commands, "exec", "gunicorn")
    assert "0.0.0.0:8000" in gunicorn.argv and gunicorn.span.line == 44
    assert gunicorn.dynamic[gunicorn.argv.index("0.0.0.0:8000")]


# --------------------------------------------------------------------------- property


nasty = st.sampled_from(["$(", ")", "`", "'", '"', "\\", "<<EOF\n", "EOF\n", "\0", "\r", "${", "}", "&", "|", ";", "\n",
                         "ssh h ", "bash -c ", "${{ x }}", "if ", "then ", "fi", "case ", "esac", "(", "{", "한"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(nasty, st.text(max_size=8)), max_size=40))
def test_property_never_raises(parts):
    text = "".join(parts)
    facts = shell.parse(SourceFile("p.sh", "shell", text))
    assert isinstance(facts, ShellFacts)
    assert all(isinstance(e, ParseError) and e.span.line >= 1 for e in facts.errors)
    assert all(len(c.argv) == len(c.dynamic) and c.span.line >= 1 for c in facts.commands)
    cmds, errors = shell.parse_text(text, "p.yml", 3, 5, SCRIPT, gh_expressions=True)
    assert isinstance(cmds, list) and isinstance(errors, list)


def test_property_extremes():
    for text in ["$( " * 1000 + ")" * 1000, "x" * 200_000, "(" * 3000, "bash -c '" * 200, '"$(' * 1000]:
        assert isinstance(shell.parse(SourceFile("p.sh", "shell", text)), ShellFacts)


# --------------------------------------------------------------------------- what a failure leads to


def test_and_or_lists_mark_what_a_failure_leads_to():
    cmds = commands("cd /srv && git pull || exit 1\ncurl -f http://x/ || true\nplain\n")
    cd, pull, curl, plain = find(cmds, "cd"), find(cmds, "git"), find(cmds, "curl"), find(cmds, "plain")
    assert cd.and_then and cd.or_else == ("exit", "1")  # `(cd && git pull) || exit 1`
    assert not pull.and_then and pull.or_else == ("exit", "1")
    assert curl.or_else == ("true",) and not curl.and_then
    assert plain.or_else is None and not plain.and_then and not plain.tested


def test_conditions_and_loops_are_marked():
    cmds = commands("if curl -f http://a/; then echo up; fi\n"
                    "for i in 1 2; do curl -s http://b/; sleep 1; done\n"
                    "until curl -f http://c/; do sleep 1; done\n")
    assert find(cmds, "curl", "-f", "http://a/").tested and not find(cmds, "curl", "-f", "http://a/").in_loop
    assert not find(cmds, "echo").tested
    assert find(cmds, "curl", "-s").in_loop and not find(cmds, "curl", "-s").tested
    until = find(cmds, "curl", "-f", "http://c/")
    assert until.tested and until.in_loop == "until" and find(cmds, "curl", "-s").in_loop == "for"


def test_errexit_from_the_shebang():
    assert parse("#!/bin/bash -e\nx\n").commands[0].context.errexit
    assert parse("#!/usr/bin/env -S bash -eu\nx\n").commands[0].context.errexit
    assert not parse("#!/usr/bin/env bash\nx\n").commands[0].context.errexit
    assert not parse("set -e\nx\n").commands[0].context.errexit  # a command, read by the checks


def test_or_else_names_the_exit_of_a_block():
    cmds = commands('curl -f http://a/ || { echo "down"; exit 1; }\ncurl -f http://b/ || (echo down; false)\n')
    assert find(cmds, "curl", "-f", "http://a/").or_else == ("exit", "1")
    assert find(cmds, "curl", "-f", "http://b/").or_else == ("false",)
