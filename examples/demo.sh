#!/bin/sh
# A tour of the ASR store in a fresh folder ./demo (`make demo`).
#
# Until recipes exist, a few lines of Python write records through the
# store API; the `asr` commands then show, walk, pack and check them.
set -eu

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold= plain=; fi

say() {
    printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
}

step() {
    say "$*"
    "$@"
}

rm -rf demo
mkdir demo
cd demo

step asr init

say "python  # writes two records, a blob and one revision"
ids=$(python - <<'EOF'
import numpy as np

from asr.store import IndexTerms, digest, open_store

store = open_store()


def terms(name, **arguments):
    """Index terms: an exact key and a key with the floats masked out."""
    exact = digest(repr((name, sorted(arguments.items()))).encode())
    shape = digest(repr((name, sorted(arguments))).encode())
    return IndexTerms(exact, shape, np.array(list(arguments.values()), float))


figure = store.put_blob(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
relax = store.commit(
    {
        "name": "demo.relax",
        "arguments": {"fmax": 0.05, "symbols": "Si2"},
        "result": {
            "energy": -10.83,
            "positions": np.array([[0.0, 0.0, 0.0], [1.36, 1.36, 1.36]]),
            "figure": figure,
        },
        "metadata": {"date": "2024-05-01 12:00:00"},
    },
    index=terms("demo.relax", fmax=0.05),
)
store.commit(
    {
        "name": "demo.bandgap",
        "arguments": {"kpts": 8.0},
        "result": {"gap": 0.61, "relaxed": relax.uid},
        "metadata": {"date": "2024-05-01 12:05:00"},
    },
    index=terms("demo.bandgap", kpts=8.0),
)
migrated = dict(relax.payload)
migrated["result"] = dict(relax.payload["result"], forces_unit="eV/Ang")
migrated["metadata"] = {"date": "2024-06-01 09:00:00"}
migrated["revision"] = {
    "migration": "demo.relax:add-units",
    "description": "Add the unit of the forces.",
}
store.commit(migrated, uid=relax.uid, parent=relax.oid, index=relax.index)
print(relax.uid, figure)
EOF
)
set -- $ids
echo "record $1, figure $2"
record=$(printf %s "$1" | cut -c1-8)
figure=$(printf %s "$2" | cut -c1-8)

step asr log "$record"
step asr show "$record"
step asr show "$record~1"
step asr show "$figure"
step asr gc
step asr fsck
