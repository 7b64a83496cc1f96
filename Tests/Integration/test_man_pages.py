"""The man pages against the binary: every command, option and configuration key that znetd
accepts is documented, so man/ cannot drift from the code.

* commands and options come from ``znetd --help`` and ``znetd COMMAND --help``;
* configuration keys come from the schema itself (``znetd check --list-keys``, a hidden option
  that prints ``ConfigSchema.keyPaths``).

A command, option or key counts as documented when it is the head of a list item (an ``.It``
line) of the page that describes it: that is where its type, default and example go.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT

MAN = REPO_ROOT / "man"
PAGES = {
    "znetd.8": MAN / "znetd.8",
    "znetd.yaml.5": MAN / "znetd.yaml.5",
    "znetd-generator.8": MAN / "znetd-generator.8",
}
EXAMPLE_CONFIG = REPO_ROOT / "packaging" / "znetd.yaml"

#: An mdoc macro name: a word such as Fl, Ar, Cm, Op, Pq, Ns.
MACRO = re.compile(r"^[A-Z][a-z][a-z]?$")


def item_lines(page):
    """The arguments of every ``.It`` line of a page, as lists of words without commas."""
    items = []
    for line in Path(page).read_text().splitlines():
        if line.startswith(".It "):
            items.append([w for w in line[4:].replace(",", " ").split() if w])
    return items


def documented_options(page):
    """Options named with ``Fl`` on ``.It`` lines: ``Fl -config`` is --config, ``Fl h`` is -h."""
    options = set()
    for words in item_lines(page):
        in_flags = False
        for word in words:
            if word == "Fl":
                in_flags = True
            elif MACRO.match(word):
                in_flags = False
            elif in_flags:
                options.add("-" + word)
    return options


def documented_words(page):
    """Every word on the ``.It`` lines of a page."""
    return {word for words in item_lines(page) for word in words}


def help_text(run_cli, *args):
    result = run_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


def subcommands(run_cli):
    """The subcommands listed by ``znetd --help``."""
    text = help_text(run_cli)
    section = text.split("SUBCOMMANDS:", 1)[1]
    names = []
    for line in section.splitlines():
        match = re.match(r"^  ([a-z][a-z0-9-]*)(?: \(default\))?(?:\s|$)", line)
        if match:
            names.append(match.group(1))
    assert names, f"no subcommands found in znetd --help:\n{text}"
    return names


def options_in(text):
    """The options of an OPTIONS: section: ``--config <path>``, ``-h, --help``, and both
    spellings of a flag with an inversion, ``--shared/--per-service``."""
    options = set()
    section = text.split("OPTIONS:", 1)[1] if "OPTIONS:" in text else ""
    for line in section.splitlines():
        match = re.match(r"^  (-[^ ].*?)(?:  |$)", line)
        if not match:
            continue
        for spelling in re.split(r"[,/]", match.group(1)):
            option = spelling.strip().split(" ")[0]
            if option.startswith("-"):
                options.add(option)
    return options


def test_every_command_is_documented(run_cli):
    documented = {words[1] for words in item_lines(PAGES["znetd.8"]) if len(words) > 1 and words[0] == "Cm"}
    missing = [name for name in subcommands(run_cli) if name not in documented]
    assert not missing, (
        "znetd(8) does not document the command(s) " + ", ".join(missing)
        + ": add an '.It Cm NAME' item under COMMANDS in man/znetd.8"
    )


def test_every_option_is_documented(run_cli):
    documented = documented_options(PAGES["znetd.8"])
    missing = {}
    for command in [None] + subcommands(run_cli):
        args = [command] if command else []
        for option in sorted(options_in(help_text(run_cli, *args))):
            if option not in documented:
                missing.setdefault(option, []).append("znetd " + (command or ""))
    assert not missing, "znetd(8) does not document " + "; ".join(
        f"option {option} (from {', '.join(where).strip()} --help)" for option, where in missing.items()
    ) + ": add an '.It Fl -NAME' item under OPTIONS in man/znetd.8"


def config_key_paths(run_cli):
    result = run_cli("check", "--list-keys")
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    # The list is the schema's: a few keys that must be there show that it was read.
    for expected in ("services", "services.NAME.listen", "services.NAME.keepalive.idle"):
        assert expected in paths, f"znetd check --list-keys does not list {expected}"
    return paths


def test_every_config_key_is_documented(run_cli):
    documented = documented_words(PAGES["znetd.yaml.5"])
    missing = [path for path in config_key_paths(run_cli) if path.split(".")[-1] not in documented]
    assert not missing, (
        "znetd.yaml(5) does not document the key(s) " + ", ".join(missing)
        + ": add an '.It Ic KEY Pq TYPE' item with its default and an example to man/znetd.yaml.5"
    )


def test_drift_check_notices_a_missing_key(tmp_path):
    """The checks above would fail for an undocumented key or option."""
    page = tmp_path / "page.5"
    page.write_text(".It Ic listen Pq address\n.It Fl -config Ar path\n.It Fl h , -help\n")
    assert "listen" in documented_words(page)
    assert "target" not in documented_words(page)
    assert documented_options(page) == {"--config", "-h", "--help"}
    help_text = "OPTIONS:\n  --config <path>         A file.\n  --shared/--per-service  Layout.\n  -h, --help  Help.\n"
    assert options_in(help_text) == {"--config", "--shared", "--per-service", "-h", "--help"}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_man_page_is_lint_clean(page):
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        if os.environ.get("CI"):
            pytest.fail("mandoc is missing (scripts/setup installs it)")
        pytest.skip("mandoc is not installed (apt-get install mandoc)")
    result = subprocess.run(
        [mandoc, "-T", "lint", "-W", "warning", str(PAGES[page])], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout and not result.stderr, result.stdout + result.stderr


def test_example_config_configures_nothing(run_cli):
    result = run_cli("check", "--config", EXAMPLE_CONFIG)
    assert result.returncode == 0, result.stderr
    assert "services: {}" in result.stdout


def test_example_config_examples_are_valid(run_cli, tmp_path):
    """The commented-out YAML of the example is a valid configuration once uncommented: from
    the first line '#key:' on, lines '#key:' and '#  ...' are YAML; prose is '# ...'."""
    text = EXAMPLE_CONFIG.read_text().splitlines()
    first = next(i for i, line in enumerate(text) if re.match(r"^#\S", line))
    lines = [line[1:] for line in text[first:] if re.match(r"^#(\S|  )", line)]
    uncommented = tmp_path / "uncommented.yaml"
    uncommented.write_text("\n".join(lines) + "\n")
    result = run_cli("check", "--config", uncommented)
    assert result.returncode == 0, result.stderr + "\n" + uncommented.read_text()
    assert "web:" in result.stdout and "app:" in result.stdout
