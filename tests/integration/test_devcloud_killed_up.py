"""A `devcloud up` killed at any step is repaired by the next `up`, and two at once are refused.

Each case runs in a network namespace and state folder of its own (scripts/isolated), so the
devcloud here never meets the tiers' shared one. The kill points are one-time set-up steps, where
a half-done step could otherwise look finished: MariaDB's data folder being made, the schema
migrations running, the service catalogue being registered.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

# A bash function: start `up`, SIGKILL it when WHAT shows (a process of the step running, or the
# step's tick in the output), then `up` again must finish, and `status` must say all answer.
SCENARIO = textwrap.dedent(
    r"""
    set -uo pipefail
    kp=$REPO/.venv/bin/kuntapilvi
    kill_when() {  # $1: label, $2: shell test that is true once the kill point is reached
      $kp devcloud reset --yes >/dev/null
      log=$(mktemp)
      $kp devcloud up >"$log" 2>&1 &
      pid=$!
      for _ in $(seq 1 1800); do
        if eval "$2"; then break; fi
        kill -0 $pid 2>/dev/null || { echo "KILLPOINT-MISSED $1"; cat "$log"; return 1; }
        sleep 0.1
      done
      kill -9 $pid; wait $pid 2>/dev/null
      echo "killed at $1"
      if ! $kp devcloud up >"$log.2" 2>&1; then
        echo "RECOVERY-FAILED $1"; cat "$log.2"; return 1
      fi
      if ! $kp devcloud status >/dev/null 2>&1; then
        echo "STATUS-FAILED $1"; $kp devcloud status; return 1
      fi
      echo "recovered from $1"
    }
    state=$KUNTAPILVI_DEVCLOUD_STATE
    kill_when "mariadb data" \
      "pgrep -f -- 'mariadb-install-db --defaults-file=$state/' >/dev/null" || exit 1
    kill_when "schema migrations" \
      "pgrep -f -- '-manage --config-file $state/etc' >/dev/null" || exit 1
    kill_when "catalogue" "grep -qE 'keystone [0-9.]+ s' \"\$log\"" || exit 1
    # Two at once: the second is refused with a clear sentence while the first goes on.
    $kp devcloud down >/dev/null
    $kp devcloud up >/dev/null 2>&1 &
    first=$!
    sleep 3
    second=$($kp devcloud up 2>&1); rc=$?
    echo "second up: rc=$rc: $second"
    wait $first; echo "first up: rc=$?"
    $kp devcloud down >/dev/null
    """
)


def test_killed_devcloud_up_is_repaired_and_a_second_up_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "REPO": str(REPO), "KUNTAPILVI_DEVCLOUD_HOSTS": "off", "NO_COLOR": "1",
           "COLUMNS": "200"}  # fmt: skip
    done = subprocess.run(
        [str(REPO / "scripts" / "isolated"), "killed-up", "bash", "-c", SCENARIO],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    output = done.stdout + done.stderr
    (tmp_path / "killed-up.log").write_text(output)
    assert done.returncode == 0, output[-5000:]
    for point in ("mariadb data", "schema migrations", "catalogue"):
        assert f"recovered from {point}" in output, output[-5000:]
    second = next(ln for ln in output.splitlines() if ln.startswith("second up:"))
    assert "rc=0" not in second and "already running" in second, second
    assert "first up: rc=0" in output, output[-3000:]
