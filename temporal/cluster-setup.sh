#!/bin/sh
# Registers the factory's search attributes on a Temporal cluster (run once by
# the temporal-setup service in docker-compose.yml). The dev server gets the same
# list from temporal/search-attributes.ts through --search-attribute flags.
set -eu
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must point at the Temporal frontend}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"

until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 2; done
temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention 30d

for attr in FactoryModel=Keyword FactoryStage=Keyword FactoryTrigger=Keyword FactoryCandidateVersion=Int FactoryAwaitingApproval=KeywordList; do
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
    --name "${attr%%=*}" --type "${attr#*=}" 2>/dev/null || true
done
echo "search attributes registered on $TEMPORAL_ADDRESS ($NAMESPACE)"
