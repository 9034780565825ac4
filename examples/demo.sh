#!/bin/sh
# `make demo`: a C2DB-style workflow over four materials, on this machine.
#
# Builds Si, BN, MoS2 and Fe in demo/tree/<name>/structure.json, runs
# examples/workflow.py with the tiny profile as MyQueue tasks on the local
# scheduler (one process per instruction, all writing into demo/.asr), and
# collects demo/project.db for the web app. demo/ is kept: a second
# `make demo` finds every Record in the store and finishes in seconds.
set -eu

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold= plain=; fi

say() {
    printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
}

step() {
    say "$*"
    "$@"
}

examples=$(cd "$(dirname "$0")" && pwd)
mkdir -p demo
cd demo

[ -d .asr ] || step asr init

say "python  # four structures in tree/<name>/structure.json (kept if there)"
python - <<'PY'
from pathlib import Path

from ase.build import bulk, graphene, mx2

structures = {  # near their PBE lattice constants: the tiny relaxations are short
    "Si": bulk("Si", "diamond", a=5.47),
    "Fe": bulk("Fe", "bcc", a=2.83),
    "MoS2": mx2("MoS2", "2H", a=3.18, thickness=3.13, vacuum=4.0),
    "BN": graphene("BN", a=2.51, vacuum=4.0),
}
structures["Fe"].set_initial_magnetic_moments([2.5])
for name, atoms in structures.items():
    path = Path("tree", name, "structure.json")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atoms.write(path)
    print(f"{path}: {atoms.get_chemical_formula()}, periodic {atoms.pbc.tolist()}")
PY

status=0
# In Si an extra ground state is capped at 3 SCF iterations: it fails and is
# healed (the summary counts it; `asr workflow status` lists its attempts).
export ASR_WORKFLOW_PROFILE=tiny ASR_WORKFLOW_INJECT=Si
say "ASR_WORKFLOW_PROFILE=tiny ASR_WORKFLOW_INJECT=Si asr workflow run $examples/workflow.py tree/*/ --local"
asr workflow run "$examples/workflow.py" tree/*/ --local || status=$?

step asr database fromtree tree/*/ --out project.db --force

say "where the results are"
cat <<TXT
  (first, in this shell: . .venv/bin/activate)
  demo/tree/<name>/        one folder per material (structure.json, task output)
  demo/.asr/               the store: every Record, with its provenance
  demo/.myqueue/           MyQueue's task list (cd demo; mq ls)

  cd demo && asr list                               the recipes
  cd demo && asr results asr.gs                     results of one recipe
  cd demo && ASR_WORKFLOW_PROFILE=tiny ASR_WORKFLOW_INJECT=Si asr workflow status $examples/workflow.py tree/*/ --all
  asr app demo/project.db                           the web app (http://127.0.0.1:5000)
TXT
exit "$status"
