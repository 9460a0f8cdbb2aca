#!/usr/bin/env bash
# The main job, end to end: launch a real program under checkpoint control,
# checkpoint it, kill it, restart it from its image, and show that it goes on
# counting where it stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
(cd "$root" && pnpm --silent build >/dev/null)
dmtcp() { node "$root/packages/core/dist/cli.js" "$@"; }
work=$(mktemp -d /tmp/dmtcp-demo.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
cat >"$work/counter.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(void) {
  for (long n = 0;; n++) { printf("count %ld\n", n); fflush(stdout); usleep(200000); }
}
C
cc -O1 -o "$work/counter" "$work/counter.c"
cd "$work"

echo "\$ dmtcp launch ./counter"
: > launch.out
# appending, as a log would: the restarted program appends after the last line
dmtcp launch --coord-port "$port" ./counter >> launch.out 2>&1 &
disown
sleep 1.5
echo "\$ dmtcp command --checkpoint"
dmtcp command --coord-port "$port" --checkpoint
sleep 0.5
echo "\$ kill -9 <counter>   (it had printed:)"
pid=$(dmtcp command --coord-port "$port" --status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).processes[0].pid))')
kill -9 "$pid"
wait 2>/dev/null || true
cp launch.out before.out
grep '^count' before.out | tail -4 | sed 's/^/    /'
echo "\$ dmtcp restart ckpt_counter_*.dmtcp   (it goes on from the checkpoint:)"
dmtcp restart --coord-port "$port" ckpt_counter_*.dmtcp > restart.out 2>&1 &
disown
sleep 1.5
dmtcp command --coord-port "$port" --quit >/dev/null 2>&1 || true
wait 2>/dev/null || true
# With the file plugin the restarted program appends to the file its stdout
# went to at checkpoint time; without it, it writes to the restart's stdout.
{ tail -n +$(( $(wc -l < before.out) + 1 )) launch.out; cat restart.out; } | grep '^count' | head -4 | sed 's/^/    /'
echo "(files in $work)"
