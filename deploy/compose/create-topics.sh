#!/bin/sh
# Creates every topic of deploy/topics.yaml (mounted at $TOPICS_FILE) on the trial's single broker, with the
# declared partitions and retention; existing topics are left alone. Runs in the apache/kafka image (busybox
# sh and awk); `KAFKA_TOPICS=echo sh create-topics.sh` prints the commands instead (tests/test_deploy.py).
set -eu
TOPICS_FILE=${TOPICS_FILE:-/etc/eviction-prevention/topics.yaml}
KAFKA_TOPICS=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
BOOTSTRAP=${BOOTSTRAP:-kafka:9092}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-1}   # one broker; production uses 3 (deploy/k8s)

# One line per topic: name partitions retention_ms
awk '
  /^[[:space:]]*-[[:space:]]*name:/ { if (name != "") print name, parts, ret; name = $NF; parts = ""; ret = "" }
  /^[[:space:]]*partitions:/        { parts = $2 }
  /^[[:space:]]*retention_ms:/      { ret = $2 }
  END                               { if (name != "") print name, parts, ret }
' "$TOPICS_FILE" | while read -r name partitions retention_ms; do
  if [ -z "$partitions" ] || [ -z "$retention_ms" ]; then
    echo "topic $name lacks partitions or retention_ms in $TOPICS_FILE" >&2
    exit 1
  fi
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR" \
    --config "retention.ms=$retention_ms" --config min.insync.replicas=1
done
