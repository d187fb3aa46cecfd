#!/usr/bin/env bash
# Side-by-side benchmark of ggipc's Java client and the official AWS IoT Device SDK for Java v2
# (GreengrassCoreIPCClientV2), against one ggipc-test-server, in one run. Needs bindings-java built
# (mvn package there, or scripts/test-java.sh). Options as system properties in JAVA_OPTS:
#   -Dbench.seconds=3 -Dbench.window=256 -Dbench.events=100000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
server="$here/../../bindings-java/target/ggipc-test-server"
[ -x "$server" ] || { echo "build bindings-java first (mvn -B package there)" >&2; exit 1; }
cd "$here"
mvn -B -ntp -q compile
cp_file="$(mktemp)"
mvn -B -ntp -q dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=compile
cp="$here/target/classes:$(cat "$cp_file"):$here/../../bindings-java/target/ggipc-0.1.0.jar"
rm -f "$cp_file"
exec java ${JAVA_OPTS:-} -cp "$cp" io.ggipc.bench.Bench "$server"
