# kuntapilvi's engine environment. Source it (bash or zsh), don't run it:
#
#     . scripts/env.sh
#
# It puts the engine that scripts/install-engine built on PATH and points Pulumi at local,
# offline defaults, so that nothing reaches for the internet:
#
#   PULUMI_HOME        the project's own plugin folder (the openstack provider is registered there)
#   PULUMI_BACKEND_URL file state inside the project: .state/pulumi (git-ignored)
#   PULUMI_CONFIG_PASSPHRASE_FILE
#                      a random passphrase made once in .state/pulumi-passphrase, for the
#                      passphrase secrets provider of local stacks
#   PULUMI_SKIP_UPDATE_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION,
#   PULUMI_DISABLE_REGISTRY_RESOLVE, PULUMI_IGNORE_AMBIENT_PLUGINS
#                      no update check, no plugin downloads, no registry look-ups, no stray
#                      plugins from PATH
#   PULUMI_PYTHON_CMD  the project venv's python, for programs whose Pulumi.yaml names no virtualenv
#
# A real deployment keeps all of this but brings its own state and secrets: set
# KUNTAPILVI_BACKEND_URL (e.g. s3://bucket/prefix?region=... or file:///srv/kuntapilvi/state)
# before sourcing, and either PULUMI_CONFIG_PASSPHRASE / PULUMI_CONFIG_PASSPHRASE_FILE or a
# stack created with `pulumi stack init --secrets-provider <kms/vault URL>`. Values already set
# in the environment are kept. See docs/engine.md.

if [ -n "${BASH_VERSION:-}" ]; then
  _kp_here=${BASH_SOURCE[0]}
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC2296
  _kp_here=${(%):-%x}
else
  _kp_here=${KUNTAPILVI_ROOT:+$KUNTAPILVI_ROOT/scripts/env.sh}
fi
if [ -z "${_kp_here:-}" ]; then
  echo "scripts/env.sh: source it from bash or zsh, or set KUNTAPILVI_ROOT first" >&2
  return 1 2>/dev/null || exit 1
fi

KUNTAPILVI_ROOT=$(cd "$(dirname "$_kp_here")/.." && pwd)
KUNTAPILVI_CACHE=${KUNTAPILVI_CACHE:-$HOME/.cache/kuntapilvi}
export KUNTAPILVI_ROOT KUNTAPILVI_CACHE

# This checkout's engine folder: the pinned pulumi beside the language host built from this
# checkout's engine/language-python (install-engine keeps one folder per version of it, so
# worktrees never swap each other's host).
KUNTAPILVI_ENGINE_BIN=$(python3 "$KUNTAPILVI_ROOT/scripts/install-engine" --print-bin-dir)
export KUNTAPILVI_ENGINE_BIN
case ":$PATH:" in
  *":$KUNTAPILVI_ENGINE_BIN:"*) ;;
  *) PATH="$KUNTAPILVI_ENGINE_BIN:$PATH" ;;
esac
export PATH

export PULUMI_HOME="${KUNTAPILVI_PULUMI_HOME:-$KUNTAPILVI_CACHE/engine/pulumi-home}"
mkdir -p "$PULUMI_HOME"

# KUNTAPILVI_STATE=postgres: the private PostgreSQL that scripts/postgres started (state backend
# and rollout ledger), with the same local passphrase as the file backend.
if [ "${KUNTAPILVI_STATE:-}" = postgres ] && [ -z "${KUNTAPILVI_BACKEND_URL:-}" ]; then
  _kp_pg_env="${KUNTAPILVI_POSTGRES_STATE:-$KUNTAPILVI_ROOT/.state/postgres}/env"
  if [ -f "$_kp_pg_env" ]; then
    # shellcheck disable=SC1090
    . "$_kp_pg_env"
    if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      _kp_pass="$KUNTAPILVI_ROOT/.state/pulumi-passphrase"
      if [ ! -s "$_kp_pass" ]; then
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$_kp_pass")
      fi
      export PULUMI_CONFIG_PASSPHRASE_FILE="$_kp_pass"
    fi
  else
    echo "scripts/env.sh: KUNTAPILVI_STATE=postgres, but no database yet: run scripts/postgres start" >&2
  fi
  unset _kp_pg_env
fi

if [ -n "${KUNTAPILVI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="$KUNTAPILVI_BACKEND_URL"
else
  mkdir -p "$KUNTAPILVI_ROOT/.state/pulumi"
  export PULUMI_BACKEND_URL="file://$KUNTAPILVI_ROOT/.state/pulumi"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    _kp_pass="$KUNTAPILVI_ROOT/.state/pulumi-passphrase"
    if [ ! -s "$_kp_pass" ]; then
      (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$_kp_pass")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$_kp_pass"
  fi
fi

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
# Plugins come from PULUMI_HOME and from beside pulumi only, never from whatever else is on PATH.
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
if [ -z "${PULUMI_PYTHON_CMD:-}" ] && [ -x "$KUNTAPILVI_ROOT/.venv/bin/python" ]; then
  export PULUMI_PYTHON_CMD="$KUNTAPILVI_ROOT/.venv/bin/python"
fi

if [ ! -x "$KUNTAPILVI_ENGINE_BIN/pulumi" ]; then
  echo "scripts/env.sh: no pulumi in $KUNTAPILVI_ENGINE_BIN yet: run scripts/install-engine" >&2
fi
unset _kp_here _kp_pass
