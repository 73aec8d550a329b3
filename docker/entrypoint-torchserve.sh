#!/usr/bin/env bash
# TorchServe container entrypoint: render config.properties from OCRSERVE_* variables
# (docker/render_config.py), check that the archives to load are in the model store, then run
# TorchServe in the foreground and pass SIGTERM/SIGINT on to its frontend (see the end).
#
#   OCRSERVE_RUN_DIR        config.properties, key_file.json (TorchServe's cwd), logs, tmp
#                           (default /var/lib/ocrserve/run)
#   OCRSERVE_MODEL_STORE    archives (default: the image's /opt/ocrserve/model_store)
#   OCRSERVE_KEYS_SECRET    Kubernetes only: copy key_file.json into this Secret (publish_keys.py)
#   OCRSERVE_KEYS_ITEM      ... under this item (default key_file.json; one per replica, e.g. <pod>.json)
#   OCRSERVE_DRY_RUN=1      or `--dry-run`: render, print the config and the command, exit 0
#                           without starting anything (a missing archive is then a warning)
#   other OCRSERVE_* variables: see docker/render_config.py and service/gateway/settings.py
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
dry_run=${OCRSERVE_DRY_RUN:-0}
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi

run_dir=${OCRSERVE_RUN_DIR:-/var/lib/ocrserve/run}
export OCRSERVE_RUN_DIR=$run_dir
mkdir -p "$run_dir/logs" "$run_dir/tmp"
config=$run_dir/config.properties

# One Python start renders the config, the workers' settings (max_pixels, threads: from the same
# gateway settings, env file included) and checks the store: 2 a bad setting, 3 a missing archive.
rendered=0
"$PYTHON" "$here/render_config.py" --out "$config" --workers-env-out "$run_dir/workers.env" --check-store \
    || rendered=$?
[ "$rendered" = 0 ] || [ "$rendered" = 3 ] || exit "$rendered"
store=$(sed -n 's/^model_store=//p' "$config")
if [ "$rendered" = 3 ]; then
    [ "$dry_run" = 1 ] || exit 3
    echo "entrypoint: warning: archives missing from $store (dry run: not starting)" >&2
fi
workers_env=$(cat "$run_dir/workers.env")

cmd=(torchserve --start --foreground --ncs --ts-config "$config" --model-store "$store")
if [ "$dry_run" = 1 ]; then
    echo "entrypoint: dry run; config $config:"
    cat "$config"
    echo "entrypoint: workers' environment:"
    echo "$workers_env"
    echo "entrypoint: would run in $run_dir: ${cmd[*]}"
    if [ -n "${OCRSERVE_KEYS_SECRET:-}" ]; then
        echo "entrypoint: would publish $run_dir/key_file.json to Secret $OCRSERVE_KEYS_SECRET item ${OCRSERVE_KEYS_ITEM:-key_file.json}"
    fi
    exit 0
fi

# TMPDIR/TEMP: TorchServe puts its worker sockets in TEMP; one per instance (see torchserve_process.py).
export TMPDIR=$run_dir/tmp TEMP=$run_dir/tmp LOG_LOCATION=$run_dir/logs METRICS_LOCATION=$run_dir/logs
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
while IFS= read -r assignment; do
    [ -n "$assignment" ] && export "$assignment"
done <<< "$workers_env"
unset TS_CONFIG_FILE
cd "$run_dir"   # TorchServe writes key_file.json into its working directory
rm -f key_file.json
if [ -n "${OCRSERVE_KEYS_SECRET:-}" ]; then
    "$PYTHON" "$here/publish_keys.py" --key-file "$run_dir/key_file.json" --secret "$OCRSERVE_KEYS_SECRET" \
        --item "${OCRSERVE_KEYS_ITEM:-key_file.json}" &
fi
# Not `exec`: TorchServe's `torchserve --foreground` is a Python launcher that waits on the Java
# frontend and handles no signal, and PID 1 of a container ignores the signals it has no handler
# for, so `docker stop` waited out its grace period and killed everything (exit 137, seen under
# compose). This shell (PID 1) sends the signal to the frontend (the launcher's child, which then
# stops its workers and exits), and exits with the launcher's status once it has gone.
"${cmd[@]}" &
launcher=$!
trap 'pkill -TERM -P "$launcher"' TERM INT
while kill -0 "$launcher" 2>/dev/null; do
    wait "$launcher"   # returns early (128 + signal) when the trap runs
done
wait "$launcher"       # the launcher's own exit status, kept by the shell
