#!/bin/sh
# Installs a Java runtime (Debian's default-jre-headless: OpenJDK 17 on bookworm) when
# no `java` is on PATH: the Spark engine's tests (tests/test_spark_engine.py) start Spark
# in local[2] mode from PyPI's pyspark, which needs Java 17 or newer.
set -eu
exec sh "$(dirname "$0")/apt_install.sh" "Java (java)" \
    "command -v java >/dev/null 2>&1" default-jre-headless
