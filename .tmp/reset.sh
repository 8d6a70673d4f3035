#!/bin/bash
# reset.sh base dest: a copy of a bqx home, the big folders hard-linked
set -e
base=$1; dest=$2
rm -rf "$dest"; mkdir -p "$dest"
for d in output staging warehouse.tables; do [ -e "$base/$d" ] && cp -al "$base/$d" "$dest/$d"; done
for d in runstore warehouse.duckdb logs demo.json; do [ -e "$base/$d" ] && cp -a "$base/$d" "$dest/$d"; done
true
