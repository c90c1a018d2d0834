#!/usr/bin/env bash
# layering.sh ROOT
#
# The layers of src/ include one way (CONTRIBUTING.md, "Layout"):
#   bin -> net, exec -> codec, media, io -> core -> seams  (io includes nothing of ours)
# A layer includes its own headers and those of the layers below it, never a peer's
# or a higher layer's; seams include nothing of ours. Generated protobuf headers
# (aipool.pb.h, aipool.grpc.pb.h) belong to net. This script prints FILE:LINE:
# INCLUDE for every include that breaks the order and fails (exit 1) if there is one.
# Exit: 0 clean, 1 a wrong include, 2 usage error.
set -euo pipefail

if [ "$#" -ne 1 ] || [ ! -d "$1/src" ]; then
  echo "usage: $0 ROOT (a tree with src/)" >&2
  exit 2
fi
src=$1/src

# allowed[layer] = the folders its files may include, itself first.
declare -A allowed=(
  [seams]="seams"
  [core]="core seams"
  [codec]="codec core seams"
  [media]="media core seams"
  [io]="io"
  [net]="net io codec media core seams proto"
  [exec]="exec io codec media core seams"
  [bin]="bin net exec io codec media core seams proto"
)

bad=0
for layer_dir in "$src"/*/; do
  layer=$(basename "$layer_dir")
  if [ -z "${allowed[$layer]+x}" ]; then
    echo "$layer_dir: a folder this script does not know; add its layer to layering.sh" >&2
    bad=1
    continue
  fi
  while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    target=$(sed -E 's/^[^"]*"([^"]+)".*/\1/' <<<"${rest#*:}")
    case $target in
      aipool.pb.h | aipool.grpc.pb.h) folder=proto ;;
      */*) folder=${target%%/*} ;;
      *) folder=$layer ;;  # a bare name: a header beside it
    esac
    ok=0
    for a in ${allowed[$layer]}; do
      [ "$a" = "$folder" ] && ok=1
    done
    if [ "$ok" -eq 0 ]; then
      echo "${file#"$1"/}:$line: src/$layer includes \"$target\" (allowed: ${allowed[$layer]})"
      bad=1
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$layer_dir" || true)
done

if [ "$bad" -ne 0 ]; then
  echo "layering: includes must point down: bin -> net/exec -> codec/media/io -> core -> seams" >&2
  exit 1
fi
echo "layering: every include in src/ points down"
