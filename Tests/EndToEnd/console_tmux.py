#!/usr/bin/env python3
"""Drives the real `stagelink console` in a private tmux server, for end-to-end tests.

The console runs in a detached tmux session of a fixed size; keys go in with `send-keys`, and the
screen comes back with `capture-pane` (plain text, or with colours). Every wait is bounded, and a
failed wait raises with the screen as it was, so that a CI log shows what the person would have
seen. The tmux server is private (`-L`) and always killed on exit.

Use it from a test:

    from console_tmux import Console

    with Console(binary, ["--store", store, "--operator", "ci"]) as console:
        console.wait_for("Staged")
        console.press("3")                      # the Failures view
        console.wait_for("Failures[")
        console.press("Enter")                  # the rows of the largest error group
        console.press("r")                      # retry the selected row
        console.wait_for("✓ retried 1 row")
        console.press("q")
        assert console.exit_code() == 0

or from a shell, for a look by hand or a smoke check of a build:

    Tests/EndToEnd/console_tmux.py smoke --binary .build/release/stagelink --store STORE
    Tests/EndToEnd/console_tmux.py show --binary .build/release/stagelink --store STORE --keys 3 Enter -- --theme light

Only the standard library and tmux (3.x) are needed.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from typing import Iterable, Sequence

# tmux key names that `press` passes through as keys rather than text.
NAMED_KEYS = {
    "Enter", "Escape", "Tab", "BTab", "Space", "BSpace", "Up", "Down", "Left", "Right",
    "PageUp", "PageDown", "PPage", "NPage", "Home", "End", "DC",
}


class ConsoleTimeout(AssertionError):
    """A wait ran out; the message holds what the screen showed."""


class Console:
    """One console in its own tmux server, sized `width`×`height`."""

    def __init__(
        self,
        binary: str,
        arguments: Sequence[str] = (),
        width: int = 120,
        height: int = 40,
        terminal: str = "tmux-256color",
        environment: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.server = f"stagelink-console-{uuid.uuid4().hex[:8]}"
        self.width = width
        self.height = height
        env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": terminal}
        env.update(environment or {})
        assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
        command = " ".join(shlex.quote(part) for part in [binary, "console", *arguments])
        # The wrapper keeps the pane open after the console ends, so that its exit status can be
        # read, and ignores SIGINT itself so that Ctrl-C reaches only the console.
        script = f"trap : INT; {assignments} {command}; echo \"[console exited $?]\"; sleep 600"
        self._tmux(
            "new-session", "-d", "-s", "console", "-x", str(width), "-y", str(height), "sh", "-c", script,
            env={**os.environ, "LANG": "C.UTF-8"}, cwd=cwd,
        )

    # MARK: - tmux

    def _tmux(self, *arguments: str, env: dict[str, str] | None = None, cwd: str | None = None) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.server, "-f", "/dev/null", *arguments],
            capture_output=True, text=True, env=env, cwd=cwd, timeout=10,
        )
        if result.returncode != 0 and arguments[0] != "kill-server":
            raise RuntimeError(f"tmux {' '.join(arguments)} failed: {result.stderr.strip()}")
        return result.stdout

    def close(self) -> None:
        """Kills the tmux server and the console with it."""
        self._tmux("kill-server")

    def __enter__(self) -> "Console":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # MARK: - Keys

    def press(self, *keys: str, pause: float = 0.05) -> None:
        """Presses keys: tmux names (`Enter`, `Escape`, `PageDown`, `C-c`) or single characters."""
        for key in keys:
            if key in NAMED_KEYS or re.fullmatch(r"[CM]-.", key):
                self._tmux("send-keys", "-t", "console", key)
            else:
                self._tmux("send-keys", "-t", "console", "-l", key)
            time.sleep(pause)

    def type(self, text: str, enter: bool = False) -> None:
        """Types text as it is (into a prompt), then Enter if asked."""
        self._tmux("send-keys", "-t", "console", "-l", text)
        if enter:
            self.press("Enter")

    def command(self, text: str) -> None:
        """Runs a `:` command (`row 123`, `theme light`)."""
        self.press(":")
        self.type(text, enter=True)

    def filter(self, text: str) -> None:
        """Sets the `/` filter of the view on screen (`failed`, `!code:INVALID_FIELD`)."""
        self.press("/", "C-u")
        self.type(text, enter=True)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "console", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    # MARK: - Screen

    def screen(self, colours: bool = False) -> str:
        """The pane as text, row by row (`colours` keeps the escape sequences of colour and style)."""
        return self._tmux("capture-pane", "-p", "-t", "console", *(["-e"] if colours else []))

    def rows(self) -> list[str]:
        return self.screen().split("\n")

    def line(self, text: str) -> str | None:
        """The first row that contains `text`."""
        return next((row for row in self.rows() if text in row), None)

    def selected(self) -> str | None:
        """The selected row of the table on screen (marked ▸)."""
        return self.line("▸")

    def status(self) -> str:
        """The status line: an action's progress or outcome."""
        rows = self.rows()
        return rows[self.height - 2] if len(rows) >= self.height - 1 else ""

    def wait_for(self, text: str | re.Pattern[str], timeout: float = 10.0) -> str:
        """Waits until the screen shows `text` (or matches a pattern); returns the screen."""
        return self._wait(lambda screen: (text.search(screen) is not None) if isinstance(text, re.Pattern) else text in screen, f"{text!r}", timeout)

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        return self._wait(lambda screen: text not in screen, f"{text!r} to go", timeout)

    def _wait(self, done, what: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if done(screen):
                return screen
            time.sleep(0.1)
        raise ConsoleTimeout(f"waited {timeout:.0f}s for {what}; the screen was:\n{screen}")

    def exit_code(self, timeout: float = 10.0) -> int:
        """Waits for the console to end and returns its exit status."""
        screen = self.wait_for(re.compile(r"\[console exited \d+\]"), timeout)
        return int(re.search(r"\[console exited (\d+)\]", screen).group(1))


# MARK: - By hand and smoke check

def smoke(binary: str, store: str, arguments: Iterable[str]) -> None:
    """Opens every view, a failure's detail, help, filters, a narrow and a too-small terminal, and
    quits: the console must draw each and give the terminal back with status 0."""
    with Console(binary, ["--store", store, *arguments]) as console:
        console.wait_for("1 Live")
        for key, title in [("2", "Staged["), ("3", "Failures["), ("4", "Policy["), ("5", "Jobs["), ("6", "Conflicts["), ("1", "Events")]:
            console.press(key)
            console.wait_for(title)
        console.press("3")
        console.press("Enter")
        console.wait_for(re.compile(r"Failures\(failed code:\S+\)\["))
        console.press("Enter")
        console.wait_for("Summary")
        console.press("?")
        console.wait_for("Keys on row")
        console.press("Escape", "Escape", "Escape")
        console.press("2")
        console.filter("!failed")
        console.wait_for("Staged(!failed)[")
        console.resize(80, 24)
        console.wait_for("<q> quit")
        console.resize(70, 20)
        console.wait_for("needs a terminal of at least 80×24")
        console.resize(120, 40)
        console.wait_for("Staged(!failed)[")
        console.press("q")
        code = console.exit_code()
        if code != 0:
            raise AssertionError(f"the console exited {code}:\n{console.screen()}")
    print("smoke: every view drawn, resized and quit cleanly")


def main() -> int:
    parser = argparse.ArgumentParser(description="Drive stagelink console in a private tmux server.")
    parser.add_argument("action", choices=["smoke", "show"], help="smoke: a bounded check of a build; show: press keys and print the screen")
    parser.add_argument("--binary", default=".build/release/stagelink", help="the stagelink executable")
    parser.add_argument("--store", required=True, help="the store to open")
    parser.add_argument("--keys", nargs="*", default=[], help="with show: keys to press first (tmux names or characters)")
    parser.add_argument("--colours", action="store_true", help="with show: keep colours and styles")
    parser.add_argument("--size", default="120x40", help="with show: WIDTHxHEIGHT")
    options, extra = parser.parse_known_args()
    # Whatever this script does not know goes to the console (`-- --read-only --theme light`).
    options.extra = [argument for argument in extra if argument != "--"]
    if options.action == "smoke":
        smoke(options.binary, options.store, options.extra)
        return 0
    width, height = (int(part) for part in options.size.split("x"))
    with Console(options.binary, ["--store", options.store, *options.extra], width=width, height=height) as console:
        console.wait_for("1 Live")
        console.press(*options.keys)
        time.sleep(0.5)
        sys.stdout.write(console.screen(colours=options.colours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
