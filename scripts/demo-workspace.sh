#!/usr/bin/env bash
# Builds the synthetic demo workspaces `make run` and `make demo` use:
#
#   $DEMO/omop         a synthetic OMOP v5.3 + Fitbit cohort (enclave synth, 20k persons, seed 1)
#   $DEMO/home         ENCLAVE_HOME of the demo: researchers.yaml with researcher "demo"
#   $DEMO/registered   a registered tier workspace shared with demo
#   $DEMO/controlled   a controlled tier workspace shared with demo
#
# Idempotent: what already exists is kept (the researcher record is renewed so
# its trainings never expire). Everything stays under $DEMO, so it never
# touches a real researcher registry.
#
# Environment: DEMO (default ./demo), ENCLAVE (default ./bin/enclave),
# PERSONS (default 20000), SYNTH_FLAGS (extra flags for enclave synth).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
DEMO=${DEMO:-$root/demo}
ENCLAVE=${ENCLAVE:-$root/bin/enclave}
PERSONS=${PERSONS:-20000}
export ENCLAVE_HOME=$DEMO/home
unset ENCLAVE_WORKSPACE ENCLAVE_RESEARCHER JUPYTERHUB_USER

mkdir -p "$DEMO" "$ENCLAVE_HOME"
DEMO=$(cd "$DEMO" && pwd)
export ENCLAVE_HOME=$DEMO/home

if [ ! -d "$DEMO/omop" ]; then
	echo "demo: synthesising $PERSONS persons into $DEMO/omop" >&2
	rm -rf "$DEMO/omop.partial"
	# shellcheck disable=SC2086
	"$ENCLAVE" synth --persons "$PERSONS" --seed 1 --out "$DEMO/omop.partial" ${SYNTH_FLAGS:-}
	mv "$DEMO/omop.partial" "$DEMO/omop"
fi

today=$(date +%F)
"$ENCLAVE" researcher add demo --replace --name "Demo Researcher" \
	--identity login.gov --rcr-training "$today" --code-of-conduct \
	--institution "Demo University" --dura controlled --ct-training "$today" >/dev/null

make_workspace() { # tier name purpose
	local dir=$DEMO/$1
	if [ ! -f "$dir/workspace.yaml" ]; then
		"$ENCLAVE" workspace create "$dir" --tier "$1" --name "$2" --purpose "$3" --researcher demo >/dev/null
	fi
	if ! grep -q '^import:' "$dir/workspace.yaml"; then
		echo "demo: importing $DEMO/omop into $dir" >&2
		"$ENCLAVE" workspace import "$dir" "$DEMO/omop" >&2
	fi
}

make_workspace registered "Demo: cardiometabolic risk (registered)" \
	"Describe type 2 diabetes, hypertension and LDL across age, sex and ancestry groups in a synthetic cohort."
make_workspace controlled "Demo: cardiometabolic genetics (controlled)" \
	"Relate planted genetic variants to LDL and type 2 diabetes in a synthetic cohort, with unshifted dates."

cat <<EOT
demo workspaces ready:
  registered tier   $DEMO/registered
  controlled tier   $DEMO/controlled
  OMOP folder       $DEMO/omop
  registry          $ENCLAVE_HOME/researchers.yaml (researcher demo)
open one with:
  ENCLAVE_HOME=$ENCLAVE_HOME ENCLAVE_WORKSPACE=$DEMO/registered ENCLAVE_RESEARCHER=demo
EOT
