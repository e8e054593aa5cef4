"""PM2 ecosystem parser: values and lines per field, errors that never go silent."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sc_audit.facts import Pm2Facts
from sc_audit.parsers import pm2
from sc_audit.source import SourceFile, decode
from sc_audit.span import Unknown

CORPUS = Path("/work/shared/corpus/pm2")


def read(text: str, path: str = "ecosystem.config.js") -> Pm2Facts:
    return pm2.parse(SourceFile(path=path, kind="pm2", text=textwrap.dedent(text).lstrip("\n")))


def fields(app) -> dict:
    return {key: located.value for key, located in app.fields.items()}


def line_of(app, key: str) -> int:
    return app.fields[key].span.line


# --------------------------------------------------------------------------- variants


def test_module_exports_with_require_path_join_env_default_and_template():
    facts = read(
        """
        const path = require('path');
        const os = require('os');
        const NAME = 'api';

        module.exports = {
          apps: [
            {
              name: `${NAME}-web`,
              script: path.join(__dirname, 'src', 'server.py'),
              cwd: __dirname,
              interpreter: 'python3',
              args: ['--port', process.env.PORT || 3000],
              instances: os.cpus().length,
              env: { PORT: process.env.PORT ?? '8000', DEBUG: false },
            },
          ],
        };
        """
    )
    assert facts.errors == []
    (app,) = facts.apps
    values = fields(app)
    assert values["name"] == "api-web"
    assert values["script"] == "src/server.py"
    assert values["cwd"] == "."
    assert values["interpreter"] == "python3"
    assert values["args"] == ["--port", 3000]
    assert values["env"] == {"PORT": "8000", "DEBUG": False}
    assert isinstance(values["instances"], Unknown)
    assert values["instances"].text == "os.cpus().length"
    assert values["instances"].span.line == 13
    assert app.span.line == 7
    keys = ("name", "script", "cwd", "interpreter", "args")
    assert [line_of(app, key) for key in keys] == [8, 9, 10, 11, 12]
    script = app.fields["script"].span
    assert (script.column, script.end_line) == (15, 9)


def test_literal_forms():
    facts = read(
        r"""
        const base = { port: 1_000, list: ['a', 'b'] };
        module.exports = {
          apps: [{
            script: 'a.js',
            a: `` + '',
            b: "tab\tq\x41\u{1F600}",
            c: [0x1F, 1e3, .5, 10n, null, undefined, !0],
            d: base.list[1] + base['port'],
            e: base.list.length,
            f: true ? 'yes' : 'no',
            g: ['x', 'y'].join('-'),
            ['h']: 1,
            [name]: 2,
          }],
        };
        """
    )
    assert fields(facts.apps[0]) == {
        "script": "a.js",
        "a": "",
        "b": "tab\tqA\U0001F600",
        "c": [31, 1000, 0.5, 10, None, None, True],
        "d": "b1000",
        "e": 2,
        "f": "yes",
        "g": "x-y",
        "h": 1,
    }


def test_huge_numbers_do_not_raise():
    huge = "0x" + "F" * 400
    facts = read(f"module.exports = {{apps: [{{script: 'a', a: -{huge}, b: {huge} + 1.5, c: 1e400}}]}};\n")
    values = fields(facts.apps[0])
    assert values["a"] == -int(huge, 16)
    assert isinstance(values["b"], Unknown)
    assert values["c"] == float("inf")


def test_env_default_chains_and_concatenation():
    facts = read(
        """
        const HOST = process.env.HOST || '0.0.0.0';
        module.exports = {
          apps: [{
            name: 'x',
            script: 'gunicorn',
            args: '-b ' + HOST + ':' + (process.env.PORT || process.env.APP_PORT || 8000),
            instances: parseInt(process.env.WORKERS, 10) || 2,
            max_memory_restart: process.env.MEM,
            kill_timeout: -1,
          }],
        };
        """
    )
    values = fields(facts.apps[0])
    assert values["args"] == "-b 0.0.0.0:8000"
    assert values["instances"] == 2
    assert isinstance(values["max_memory_restart"], Unknown)
    assert values["max_memory_restart"].text == "process.env.MEM"
    assert values["kill_timeout"] == -1


def test_common_object_spread_into_two_apps():
    facts = read(
        """
        const common = {
          cwd: '/srv/app',
          exec_mode: 'fork',
          env: { NODE_ENV: 'production' },
        };

        module.exports = {
          apps: [
            { ...common, name: 'web', script: 'web.js', exec_mode: 'cluster' },
            { ...common, name: 'worker', script: 'worker.js', env: { ...common.env, ROLE: 'w' } },
          ],
        };
        """
    )
    web, worker = facts.apps
    assert fields(web) == {
        "cwd": "/srv/app",
        "exec_mode": "cluster",
        "env": {"NODE_ENV": "production"},
        "name": "web",
        "script": "web.js",
    }
    assert line_of(web, "cwd") == 2  # where the shared value is written
    assert line_of(web, "exec_mode") == 9  # the app's own override
    assert fields(worker)["env"] == {"NODE_ENV": "production", "ROLE": "w"}
    assert line_of(worker, "env") == 10
    assert fields(worker)["exec_mode"] == "fork"


def test_unknown_spread_keeps_the_other_keys():
    facts = read(
        """
        const base = require('./base');
        module.exports = { apps: [{ ...base, name: 'a', script: 'a.js' }] };
        """
    )
    assert facts.errors == []
    assert fields(facts.apps[0]) == {"name": "a", "script": "a.js"}


def test_export_default_identifier_and_export_const():
    facts = read(
        """
        import { dirname, join } from 'node:path';
        import { fileURLToPath } from 'node:url';
        const root = dirname(fileURLToPath(import.meta.url));

        export const apps = [
          { name: 'api', script: join(root, 'api', 'main.py'), interpreter: 'none' },
        ];

        export default { apps };
        """,
        path="ecosystem.config.mjs",
    )
    assert facts.errors == []
    (app,) = facts.apps
    assert fields(app) == {"name": "api", "script": "api/main.py", "interpreter": "none"}
    assert line_of(app, "script") == 6


def test_cjs_module_exports_apps_assignment():
    facts = read(
        """
        const config = { deploy: {} };
        module.exports = config;
        module.exports.apps = [{ name: 'a', script: 'a.js', instances: 'max', exec_mode: 'cluster' }];
        """,
        path="ecosystem.config.cjs",
    )
    assert facts.errors == []
    assert fields(facts.apps[0])["instances"] == "max"
    assert facts.apps[0].span.line == 3


def test_exports_apps_alone():
    facts = read("exports.apps = [{ name: 'a', script: 'a.js' }];\n")
    assert [app.name for app in facts.apps] == ["a"]


def test_json_with_comments_and_trailing_commas():
    facts = read(
        """
        {
          // JSON5-ish: PM2 evaluates .json files as JS
          "apps": [
            {
              "name": "api",
              "script": "app.py",
              "interpreter": "python3",
              "instances": 2,
              "exec_mode": "fork",
            },
          ],
        }
        """,
        path="process.json",
    )
    assert facts.errors == []
    (app,) = facts.apps
    assert fields(app)["instances"] == 2
    assert app.span.line == 4
    name = app.fields["name"].span
    assert (name.line, name.column, name.end_column) == (5, 15, 20)  # positions of the file, not of "(…)"


def test_json_single_app_process_file():
    facts = read('{"name": "worker", "script": "./w.js", "instances": 1}\n', path="process.json")
    assert fields(facts.apps[0]) == {"name": "worker", "script": "./w.js", "instances": 1}


def test_yaml_ecosystem_with_lines_and_post_deploy():
    facts = read(
        """
        apps:
          - name: api
            script: app.py
            interpreter: python3
            instances: 4
            env:
              PORT: "8000"
        deploy:
          production:
            user: deploy
            post-deploy: |
              pip install -r requirements.txt
              pm2 reload ecosystem.yml
        """,
        path="ecosystem.yml",
    )
    assert facts.errors == []
    (app,) = facts.apps
    assert fields(app) == {
        "name": "api",
        "script": "app.py",
        "interpreter": "python3",
        "instances": 4,
        "env": {"PORT": "8000"},
    }
    assert app.span.line == 2
    assert line_of(app, "instances") == 5
    (snippet,) = facts.snippets
    assert snippet.text == "pip install -r requirements.txt\npm2 reload ecosystem.yml\n"
    assert (snippet.span.line, snippet.span.column) == (12, 7)


def test_yaml_merge_key():
    facts = read(
        """
        common: &common
          cwd: /srv
          exec_mode: fork
        apps:
          - <<: *common
            name: a
            script: a.py
            exec_mode: cluster
        """,
        path="ecosystem.yaml",
    )
    assert fields(facts.apps[0]) == {"cwd": "/srv", "exec_mode": "cluster", "name": "a", "script": "a.py"}


def test_env_function_call_is_unknown_while_name_and_script_survive():
    facts = read(
        """
        const dotenv = require('dotenv');
        module.exports = {
          apps: [{
            name: 'api',
            script: 'server.js',
            env: dotenv.config().parsed,
            env_production: loadEnv('prod'),
          }],
        };
        """
    )
    values = fields(facts.apps[0])
    assert (values["name"], values["script"]) == ("api", "server.js")
    assert isinstance(values["env"], Unknown) and values["env"].text == "dotenv.config().parsed"
    assert isinstance(values["env_production"], Unknown)
    assert facts.errors == []


def test_apps_built_with_map_is_a_parse_error():
    facts = read(
        """
        const names = ['a', 'b'];
        module.exports = {
          apps: names.map((name) => ({ name, script: `${name}.js` })),
        };
        """
    )
    assert facts.apps == []
    (error,) = facts.errors
    assert error.message.startswith("apps cannot be read statically: names.map(")
    assert error.span.line == 3


def test_unknown_spread_in_apps_reports_and_keeps_known_apps():
    facts = read(
        """
        module.exports = {
          apps: [...require('./more'), { name: 'a', script: 'a.js' }],
        };
        """
    )
    assert [app.name for app in facts.apps] == ["a"]
    assert [error.span.line for error in facts.errors] == [2]


def test_non_object_app_entry_is_skipped_with_an_error():
    facts = read("module.exports = { apps: [require('./app'), 'x', { script: 'b.js' }] };\n")
    assert [fields(app) for app in facts.apps] == [{"script": "b.js"}]
    assert len(facts.errors) == 2


def test_syntax_error_mid_file_recovers_earlier_apps():
    facts = read(
        """
        module.exports = {
          apps: [
            { name: 'a', script: 'a.js' },
            { name: 'b', script: },
            { name: 'c', script: 'c.js' },
          ],
        };
        """
    )
    assert [app.name for app in facts.apps] == ["a", "b", "c"]
    assert facts.errors[0].message.startswith("syntax error")
    assert facts.errors[0].span.line == 4


def test_missing_comma_between_apps_recovers_both():
    facts = read(
        """
        module.exports = {
          apps: [
            { name: 'a', script: 'a.js' },
            { name: 'b', script: 'b.js' }
            { name: 'c', script: 'c.js' },
          ],
        };
        """
    )
    assert facts.errors and facts.errors[0].message.startswith("syntax error")
    assert facts.errors[0].span.line in (4, 5)
    names = [app.name for app in facts.apps]
    assert names[:1] == ["a"] and "c" in names


@pytest.mark.parametrize(
    ("path", "text", "line"),
    [
        ("ecosystem.config.js", "const x = ;\nmodule.exports = {apps: [{name: 'a', script: 'a.js'}]};\n", 1),
        ("ecosystem.config.js", "module.exports = {\n  apps: [{ name: 'a', script: 'a.js' }\n", 1),
        ("process.json", '{"apps": [{"name": "a", "script": "a.js"}]}\n}\n', 2),
    ],
)
def test_syntax_error_that_hides_the_exports_still_salvages_apps(path, text, line):
    facts = pm2.parse(SourceFile(path=path, kind="pm2", text=text))
    assert [fields(app) for app in facts.apps] == [{"name": "a", "script": "a.js"}]
    assert facts.errors[0].message.startswith("syntax error")
    assert facts.errors[0].span.line == line


def test_post_deploy_snippets_point_after_the_quote():
    facts = read(
        """
        module.exports = {
          apps: [{ name: 'a', script: 'a.js' }],
          deploy: {
            production: {
              'pre-deploy-local': "echo local",
              "post-deploy": 'npm ci && pm2 reload ecosystem.config.js --env production',
            },
          },
        };
        """
    )
    local, post = facts.snippets
    assert local.text == "echo local"
    assert post.text == "npm ci && pm2 reload ecosystem.config.js --env production"
    assert (post.span.line, post.span.column) == (6, 23)
    assert post.context == "pm2-post-deploy"


def test_cycles_and_unknown_roots_do_not_crash():
    facts = read("const a = { apps: b.apps }; const b = a; module.exports = a;\n")
    assert facts.apps == [] and facts.errors
    facts = read("module.exports = require('./real-config');\n")
    assert facts.errors[0].message.startswith("PM2 configuration cannot be read statically")
    facts = read("console.log('nothing exported');\n")
    assert facts.errors[0].message.startswith("no PM2 configuration")


def test_non_ascii_columns_count_characters():
    text = "module.exports = { apps: [{ name: '日本é', script: 'a.js' }] };\n"
    span = read(text).apps[0].fields["script"].span
    assert span.column == text.index("'a.js'") + 1
    assert span.end_column == span.column + len("'a.js'")


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("process.json", '{"apps": [{"script": "a.js"}]}', True),
        ("ecosystem.yml", "apps:\n  - script: a.js\n", True),
        ("package.json", '{"name": "x", "scripts": {"start": "node a.js"}}', False),
        (".github/workflows/ci.yml", "on: push\njobs:\n  apps: {}\n", False),
        ("process.json", '{"name": "w", "script": "w.js", "exec_mode": "fork"}', True),
        ("deploy.json", '{"deploy": {"prod": {"post-deploy": "pm2 reload all"}}}', True),
        ("broken.json", "{\0", False),
    ],
)
def test_looks_like_ecosystem(path, text, expected):
    assert pm2.looks_like_ecosystem(path, text) is expected


def test_import_stays_cheap():
    import subprocess
    import sys

    code = "import sys, sc_audit.parsers.pm2; print('tree_sitter' in sys.modules, 'yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- never raises


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("{}[]()`'\":,.\0$\n"), max_size=300),
    suffix=st.sampled_from([".js", ".cjs", ".json", ".yml"]),
)
def test_random_text_never_raises(text, suffix):
    facts = pm2.parse(SourceFile(path="ecosystem" + suffix, kind="pm2", text=text))
    assert isinstance(facts, Pm2Facts)
    assert not any(error.message.startswith("PM2 file could not be read") for error in facts.errors)
    pm2.looks_like_ecosystem("ecosystem" + suffix, text)


JS_TOKENS = [
    "module.exports", "exports.apps", "export default", "const a", "a", "=", "{", "}", "[", "]", "(", ")",
    "apps", "deploy", "'post-deploy'", ":", ",", "...", "...a", "process.env.X", "||", "??", "+", "-", "?",
    "path.join(__dirname,", "__dirname", "'x'", "`${a}`", "`", "${", "1e3", "0x1F", "10n", "null",
    "undefined", "true", "require('path')", ".map(f)", ".join(' ')", "a.b", "a['b']", ";", "\n", "//c\n",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(JS_TOKENS), max_size=60))
def test_random_js_tokens_never_raise(tokens):
    text = " ".join(tokens)
    for path in ("ecosystem.config.js", "process.json"):
        facts = pm2.parse(SourceFile(path=path, kind="pm2", text=text))
        assert not any(error.message.startswith("PM2 file could not be read") for error in facts.errors)


YAML_TOKENS = [
    "apps:", "deploy:", "\n", "  ", "- ", "script: a.py", "name: x", "&a ", "*a", "<<: *a", "[", "]", "{",
    "}", ",", "post-deploy: |", "'y'", "!!timestamp 2020-13-45", "!!binary", "!!set", "!foo", "~", ":", "---",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_random_yaml_tokens_never_raise(tokens):
    text = "".join(tokens)
    facts = pm2.parse(SourceFile(path="ecosystem.yml", kind="pm2", text=text))
    assert not any(error.message.startswith("PM2 file could not be read") for error in facts.errors)
    pm2.looks_like_ecosystem("ecosystem.yml", text)


@pytest.mark.parametrize("suffix", [".js", ".json", ".yml"])
@pytest.mark.parametrize("open_, close", [("[", "]"), ("(", ")"), ("{a:", "}")])
def test_deep_nesting_is_unknown_not_recursion_error(suffix, open_, close):
    deep = open_ * 5000 + "1" + close * 5000
    text = f"module.exports = {{ apps: [{{ script: 'a.js', args: {deep} }}] }};"
    if suffix != ".js":
        text = f'{{"apps": [{{"script": "a.js", "args": {deep}}}]}}'
    facts = pm2.parse(SourceFile(path="ecosystem" + suffix, kind="pm2", text=text))
    assert isinstance(facts, Pm2Facts)
    assert not any(error.message.startswith("PM2 file could not be read") for error in facts.errors)
    if suffix != ".yml":  # YAML: libyaml refuses such depth, a ParseError
        assert facts.apps[0].get("script") == "a.js"


def test_exponential_values_are_bounded():
    text = "const a0 = ['xxxxxxxxxx', 'yyyyyyyyyy'];\n"
    text += "".join(f"const a{i} = [a{i - 1}, a{i - 1}, a{i - 1}, a{i - 1}];\n" for i in range(1, 30))
    text += "const s0 = 'ab';\n" + "".join(f"const s{i} = s{i - 1} + s{i - 1};\n" for i in range(1, 60))
    text += "module.exports = { apps: [{ script: 'a.js', args: a29, name: s59 }] };\n"
    facts = pm2.parse(SourceFile(path="ecosystem.config.js", kind="pm2", text=text))
    assert facts.apps[0].get("args").text == "(value too large)"
    assert isinstance(facts.apps[0].get("name"), Unknown)
    yaml_bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    facts = pm2.parse(SourceFile(path="ecosystem.yml", kind="pm2", text=yaml_bomb + "apps: [*u]\n"))
    assert isinstance(facts, Pm2Facts)


# --------------------------------------------------------------------------- real corpus

# Files of the corpus that yield no app, and why (measured):
#   0xseven7__pm2-demo__ecosystem.json          deploy-only file (its 2 hooks become snippets)
#   34r7h__cardano-python-js__process.json      only watch options, no script: "no `apps`" error
#   61Duke__RSPT-website__ecosystem.json        typo `"app":` instead of `"apps"`, plus deploy
#   draadnu__openstad-frontend__…config.js      apps: [require('./app')] -> ParseError
# Every other file yields all of its app object literals (checked against `script:` keys).
MIN_FILES_WITH_APPS = 77
SCRIPT_KEY = re.compile(r"""(?m)^\s*["']?script["']?\s*:""")


def corpus_files() -> list[Path]:
    return sorted(path for path in CORPUS.iterdir() if path.is_file()) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_real_corpus():
    with_apps = 0
    for path in corpus_files():
        text, _ = decode(path.read_bytes())
        facts = pm2.parse(SourceFile(path=path.name, kind="pm2", text=text))
        assert not any(e.message.startswith("PM2 file could not be read") for e in facts.errors), path
        with_apps += bool(facts.apps)
        if path.suffix in (".js", ".cjs", ".mjs", ".json"):
            literal_scripts = len(SCRIPT_KEY.findall(text))
            recovered = sum("script" in app.fields for app in facts.apps)
            assert recovered == literal_scripts or not facts.apps, path
    assert len(corpus_files()) >= 81
    assert with_apps >= MIN_FILES_WITH_APPS


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_real_corpus_files_are_recognised():
    for path in corpus_files():
        text, _ = decode(path.read_bytes())
        if pm2.parse(SourceFile(path=path.name, kind="pm2", text=text)).apps and path.suffix != ".js":
            assert pm2.looks_like_ecosystem(path.name, text), path
