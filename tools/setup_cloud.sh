#!/usr/bin/env bash
# Sets up what the cloud plugin (cpp/plugins/cloud) needs to build and test.
# Idempotent and quiet when everything is there; called by tools/setup.sh.
#
#   - Debian packages: libcurl (OpenSSL flavour) headers + libcurl.so to link
#     against, expat for the S3 listing parser.
#   - .venv: the storage servers and reference clients
#     (tools/requirements-cloud.txt): moto[server], boto3,
#     gcp-storage-emulator, google-cloud-storage, azure-storage-blob; their
#     wheels are also cached in .cache/wheels for tests run in a fresh venv.
#   - .cache/node: Azurite (npm), run with the machine's Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION=3.35.0
APT_PACKAGES=(libcurl4-openssl-dev libexpat1-dev nodejs)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_cloud: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup_cloud: .venv is missing; run tools/setup.sh first" >&2
  exit 1
fi
stamp=.venv/.requirements-cloud.sha256
want=$(sha256sum tools/requirements-cloud.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup_cloud: installing storage servers and clients into .venv"
  .venv/bin/python -m pip install -q -r tools/requirements-cloud.txt
  mkdir -p .cache/wheels
  .venv/bin/python -m pip download -q -d .cache/wheels -r tools/requirements-cloud.txt
  echo "$want" >"$stamp"
fi

azurite=.cache/node/node_modules/.bin/azurite-blob
if [ ! -x "$azurite" ] || [ "$(cat .cache/node/.azurite-version 2>/dev/null)" != "$AZURITE_VERSION" ]; then
  echo "setup_cloud: installing Azurite $AZURITE_VERSION into .cache/node"
  mkdir -p .cache/node
  [ -f .cache/node/package.json ] || echo '{"name": "weightstream-test-servers", "private": true}' >.cache/node/package.json
  npm install --prefix .cache/node --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >/dev/null
  echo "$AZURITE_VERSION" >.cache/node/.azurite-version
fi
