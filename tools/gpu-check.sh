#!/usr/bin/env bash
# Run the equivalence tests and every notebook on a CUDA GPU, with random and trained-like weights
# (chapters 7 and 9 also with the heavier trained-like profile).
# Usage (on a machine with an NVIDIA GPU and PyTorch, in the repository root):
#   bash tools/gpu-check.sh [OUTDIR]
# It uses whatever python3 is on PATH (its torch must see the GPU) and writes the logs and
# JUnit files to OUTDIR (default: gpu-check/). Every step has its own time limit.
set -uo pipefail
out="${1:-gpu-check}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" VIT_TUTORIAL_DEVICE=cuda PYTHONUNBUFFERED=1
export VIT_TUTORIAL_CACHE="${VIT_TUTORIAL_CACHE:-$PWD/.gpu-check-cache}"
status=0
python3 - <<'PY' || exit 1
import torch, transformers
assert torch.cuda.is_available(), "this check needs a CUDA GPU (torch.cuda.is_available() is False)"
print("torch", torch.__version__, "| transformers", transformers.__version__, "|", torch.cuda.get_device_name(0))
print("TF32: cuDNN", torch.backends.cudnn.allow_tf32, "| matmul", torch.backends.cuda.matmul.allow_tf32)
PY
jobs=$(( $(nproc) > 8 ? 8 : $(nproc) ))
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "[$name] exit $rc after $((SECONDS - t0)) s: $(tail -n 1 "$out/$name.log")"
  [ $rc -eq 0 ] || status=1
}
# unit tests (the grader's tests are left out: they are about processes, not the GPU;
# the equivalence tests run on whatever VIT_TUTORIAL_DEVICE picks, here the GPU)
step unit 180 python3 -m pytest -q -p no:cacheprovider -n "$jobs" tests -m "not browser" \
  --ignore=tests/test_browser.py --ignore=tests/test_packaging.py --ignore=tests/test_workflows.py \
  --ignore=tests/test_grade.py --ignore=tests/test_grade_attacks.py --ignore=tests/test_grade_worker.py \
  --junitxml="$out/unit.xml"
for weights in random trained-like; do
  step "notebooks-$weights" 150 env VIT_TUTORIAL_WEIGHTS=$weights python3 -m pytest -q -p no:cacheprovider \
    -n "$jobs" --nbmake book --junitxml="$out/notebooks-$weights.xml"
done
step notebooks-trained-like-heavy 120 env VIT_TUTORIAL_WEIGHTS=trained-like-heavy python3 -m pytest -q -p no:cacheprovider \
  -n "$jobs" --nbmake book/07_mlp_encoder.ipynb book/09_classifier.ipynb --junitxml="$out/notebooks-trained-like-heavy.xml"
exit $status
