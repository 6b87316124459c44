"""A stand-in for Open MPI's ``mpirun`` on one machine (tests only).

Understands the flags the hf-lora-mpijob launcher passes (``-x NAME[=VALUE]`` exports, and
``--allow-run-as-root``, ``-bind-to``, ``-map-by``, ``-mca`` which it ignores), counts the slots
in the hostfile named by ``OMPI_MCA_orte_default_hostfile`` (as the operator sets it) and starts
one process per slot with Open MPI's rank variables, as ``orted`` would on the workers.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    exports: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-x":
            name, _, value = argv[i + 1].partition("=")
            exports[name] = value if "=" in argv[i + 1] else os.environ.get(name, "")
            i += 2
        elif arg in ("-bind-to", "-map-by"):
            i += 2
        elif arg == "-mca":
            i += 3
        elif arg.startswith("-"):
            i += 1
        else:
            break
    app = argv[i:]
    slots = []
    with open(os.environ["OMPI_MCA_orte_default_hostfile"]) as hostfile:
        for line in hostfile:
            host, _, spec = line.strip().partition(" slots=")
            slots += [host] * int(spec or 1)
    procs = []
    for rank, host in enumerate(slots):
        env = {**os.environ, **exports, "OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(len(slots)),
               "OMPI_COMM_WORLD_LOCAL_RANK": str(slots[:rank].count(host)),
               "OMPI_COMM_WORLD_LOCAL_SIZE": str(slots.count(host))}
        procs.append(subprocess.Popen(app, env=env))
    return max(p.wait() for p in procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
