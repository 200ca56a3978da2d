#!/usr/bin/env bash
# The GPU path in under 5 minutes on one GPU (benchmarks/gpu_check.py says what it prints); run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
exec timeout 300 python benchmarks/gpu_check.py "$@"
