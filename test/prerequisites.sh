#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian machine lacks (PostgreSQL server and
# client, OpenSSH, kcat, PgBouncer, Java 17 and Maven for Kafka's jars, Go for the reference
# Merkle code, Python 3 for fastavro, util-linux `script`, Chromium for the replay page test).
# Idempotent: what is already there is not installed again. `npm test` and `.ci/run` both run
# it first, so the README's test command passes by itself on a fresh machine.
#
# Exit codes: 0 everything is there (or was installed); 3 something is missing and this user
# cannot install it (the message names each tool and the command that installs it).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
have psql || need+=(postgresql-client)
have sshd || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
have ssh || need+=(openssh-client)
have kcat || need+=(kcat)
have pgbouncer || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
have openssl || need+=(openssl)
have script || need+=(bsdutils) # util-linux `script`: psql on a pseudo-terminal in the e2e tests
have java || need+=(openjdk-17-jre-headless)
have mvn || need+=(maven)
have go || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
have python3 || need+=(python3 python3-venv)
have chromium || [ -x /usr/bin/chromium ] || need+=(chromium) # headless, driven by playwright-core in the replay e2e
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  echo "the tests need Debian packages this machine lacks: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  echo "(or run: sudo bash test/prerequisites.sh), then run npm test again" >&2
  exit 3
fi
echo "installing test prerequisites: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages may start their own daemons; the tests start private instances on free ports.
for svc in postgresql pgbouncer ssh; do service "$svc" stop >/dev/null 2>&1 || true; done
