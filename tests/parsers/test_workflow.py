"""Workflow parser: run steps, ssh actions, GitHub expressions, YAML line mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sc_audit.facts import WorkflowFacts
from sc_audit.parsers import workflow
from sc_audit.source import SourceFile

CORPUS = Path("/work/shared/corpus/workflows")

WORKFLOW = """\
name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: restart
        run: |
          echo start
          cd /app

            pkill -f "gunicorn app:app" || true
      - run: echo "${{ secrets.TOKEN }}" done
      - run: 'kill $(cat app.pid)'
      - run: >
          folded
          command
      - name: remote
        uses: appleboy/ssh-action@v1.0.0
        with:
          host: ${{ secrets.HOST }}
          script: |
            cd /srv/app
            nohup gunicorn -b 0.0.0.0:${{ vars.PORT }} app:app &
      - uses: appleboy/ssh-action@master
        with:
          script: pkill -f gunicorn
      - shell: python
        run: import os; os.system("rm -rf /")
      - run: |
          ssh deploy@${{ secrets.HOST }} <<'EOF'
            systemctl restart app
          EOF
"""


def parse(text: str, path: str = ".github/workflows/deploy.yml") -> WorkflowFacts:
    return workflow.parse(SourceFile(path, "workflow", text))


def find(facts, *argv):
    for command in facts.commands:
        if command.argv[: len(argv)] == argv:
            return command
    raise AssertionError(f"no command {argv} in {[c.argv for c in facts.commands]}")


def position(command):
    return command.span.line, command.span.column, command.span.end_line, command.span.end_column


def test_block_scalar_lines_map_to_yaml_lines():
    facts = parse(WORKFLOW)
    assert not facts.errors
    assert position(find(facts, "echo", "start")) == (12, 11, 12, 21)
    assert position(find(facts, "cd", "/app")) == (13, 11, 13, 18)
    # third content line of the block (after an empty one), indented further
    assert position(find(facts, "pkill")) == (15, 13, 15, 40)
    assert find(facts, "pkill").context.kind == "workflow-run"
    assert find(facts, "pkill").context.span.line == 11


def test_plain_quoted_and_folded_scalars():
    facts = parse(WORKFLOW)
    echo = find(facts, "echo", "${{ secrets.TOKEN }}")
    assert echo.dynamic == (False, True, False)
    assert position(echo) == (16, 14, 16, 46)
    assert find(facts, "kill").span.column == 15  # after the quote
    assert find(facts, "cat").in_substitution
    assert position(find(facts, "folded")) == (19, 11, 19, 25)


def test_ssh_action_script():
    facts = parse(WORKFLOW)
    gunicorn = find(facts, "nohup", "gunicorn")
    assert gunicorn.context.kind == "ssh-action" and gunicorn.context.remote
    assert gunicorn.context.cmdline == "cd /srv/app\nnohup gunicorn -b 0.0.0.0:${{ vars.PORT }} app:app &\n"
    assert gunicorn.background
    assert gunicorn.argv[3] == "0.0.0.0:${{ vars.PORT }}" and gunicorn.dynamic[3]
    assert (gunicorn.span.line, gunicorn.span.column) == (27, 13)
    single = find(facts, "pkill", "-f", "gunicorn")
    assert single.context.kind == "ssh-action" and single.context.cmdline is None


def test_ssh_heredoc_in_run_step():
    restart = find(parse(WORKFLOW), "systemctl")
    assert restart.context.kind == "ssh" and restart.context.remote
    assert (restart.span.line, restart.span.column) == (35, 13)


def test_non_shell_steps_are_skipped_and_uses_recorded():
    facts = parse(WORKFLOW)
    assert not any(c.argv and c.argv[0] == "import" for c in facts.commands)
    assert [u.value for u in facts.uses] == ["actions/checkout@v4", "appleboy/ssh-action@v1.0.0", "appleboy/ssh-action@master"]
    assert (facts.uses[0].span.line, facts.uses[0].span.column) == (9, 15)


def test_windows_runner_default_shell_is_not_bash():
    facts = parse("jobs:\n  b:\n    runs-on: windows-latest\n    steps:\n      - run: Get-ChildItem\n")
    assert facts.commands == []


def test_yaml_error_is_a_parse_error_with_line():
    facts = parse("jobs:\n  a:\n    steps:\n      - run: echo ok\n     bad: [\n")
    assert facts.errors and facts.errors[0].span.line >= 4
    assert isinstance(facts, WorkflowFacts)


def test_shell_error_inside_run_points_to_yaml_line():
    facts = parse("jobs:\n  a:\n    steps:\n      - run: |\n          echo ok\n          x \"unterminated\n")
    assert find(facts, "echo").span.line == 5
    assert facts.errors and facts.errors[0].span.line == 6


def test_odd_documents_do_not_crash():
    for text in ["", "on: push", "- a\n- b", "jobs: [1, 2]", "jobs:\n  a:\n    steps: {x: 1}", "---\na: 1\n---\nb: 2\n", "\0\t:"]:
        assert isinstance(parse(text), WorkflowFacts)


# --------------------------------------------------------------------------- corpus


def corpus_file(name: str) -> WorkflowFacts:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip("corpus not present")
    return parse(path.read_text(errors="replace"), path=name)


def test_corpus_parses():
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    files = sorted(CORPUS.iterdir())
    with_commands = 0
    for path in files:
        facts = parse(path.read_text(errors="replace"), path=path.name)
        assert isinstance(facts, WorkflowFacts)
        with_commands += bool(facts.commands)
    assert with_commands >= len(files) * 0.9


def test_corpus_heredoc_in_indented_block():
    facts = corpus_file("00three__Crawler__.github__workflows__deploy-ec2.yml")
    compose = find(facts, "sudo", "docker", "compose", "up")
    assert compose.context.kind == "ssh" and compose.context.remote
    assert (compose.span.line, compose.span.column) == (35, 13)
    assert not facts.errors


def test_corpus_if_ssh_heredoc_then():
    facts = corpus_file("2024aiml037-jpg__cutomer_support_agent_live__.github__workflows__deploy-ec2.yml")
    tar = find(facts, "tar", "-xzf")
    assert tar.context.kind == "ssh" and tar.context.remote and tar.span.line == 128
    assert not facts.errors


# --------------------------------------------------------------------------- property


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["jobs:", "\n", "  a:", "    steps:", "      - run: ", "|", "${{ x }}", "'", '"', "$(",
                                 "ssh h <<EOF", "EOF", "\0", "\r", "[", "{", ": ", "uses: appleboy/ssh-action@v1",
                                 "with:", "script: "]) | st.text(max_size=6), max_size=40))
def test_property_never_raises(parts):
    assert isinstance(parse("".join(parts)), WorkflowFacts)


def test_property_extremes():
    for text in ["[" * 5000, "a:\n" + "  " * 2000 + "b: 1", "jobs:\n a:\n  steps:\n   - run: " + "$( " * 1000]:
        assert isinstance(parse(text), WorkflowFacts)


def test_run_steps_have_errexit_unless_a_custom_shell_drops_it():
    facts = parse("""
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - run: a
      - run: b
        shell: bash
      - run: c
        shell: bash {0}
""")
    assert find(facts, "a").context.errexit and find(facts, "b").context.errexit
    assert not find(facts, "c").context.errexit


@pytest.mark.parametrize("ref,errexit,ignored", [
    ("v1.0.3", True, False), ("v1.2.0", True, False), ("v1.2.1", False, True), ("v1", False, True),
    ("master", False, True), ("0123abc", True, False),
])
def test_ssh_action_script_stop_by_version(ref, errexit, ignored):
    facts = parse(f"""
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - uses: appleboy/ssh-action@{ref}
        with:
          script_stop: true
          script: |
            git pull
            sudo systemctl restart app
""")
    context = find(facts, "git").context
    assert context.errexit is errexit
    assert (context.ignored_script_stop is not None) is ignored
