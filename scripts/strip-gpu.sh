#!/usr/bin/env bash
# Strips the ELF files of build-gpu/ so that it and .gl/ fit the device tool's 64 MiB carry.
cd "$(dirname "$0")/.."
find build-gpu -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'file "$1" | grep -q ELF && strip --strip-unneeded "$1"' _ {} \;
du -sh build-gpu .gl
